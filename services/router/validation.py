"""Input checks of the router's RPCs: one field violation per bad field, nothing recorded on any."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from services.common.errors import Violations
from services.common.idempotency import fingerprint
from services.common.validation import check_customer_ref, check_idempotency_key
from services.router.domain.model import Mode
from services.router.domain.tags import TagScalar, TagSpec
from services.router.mapping import MODE_FROM_PROTO
from services.router.service.commands import RouteCommand
from services.router.service.policies import Snapshot
from skylane.common.v1 import types_pb2
from skylane.router.v1 import router_pb2

_HASH = re.compile(r"^[0-9a-f]{64}$")
_DIGITS = re.compile(r"^\+?\d[\d -]{6,}$")
MAX_WINDOW = timedelta(days=92)
# A report names the local days a window touches, in the config's time zone (one reload can change it).
# Every UTC offset is under a day, so ends a day inside datetime's range have a local day in any zone;
# nearer the edge, the conversion overflows and the call would fail as INTERNAL.
FIRST_START = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
LAST_END = datetime.max.replace(tzinfo=UTC, hour=0, minute=0, second=0, microsecond=0)
_LOCAL_DAYS = "(the window's ends must have a local day in every time zone)"
MAX_WHAT_IF_SAMPLES = 200
MAX_TERM_MONTHS = 600
MAX_TAGS = 400
# Which TagValue fields a tag of each value type accepts.
_ACCEPTS = {
    "int": ("int_value",),
    "number": ("number_value", "int_value"),
    "string": ("string_value",),
    "bool": ("bool_value",),
}
# How a refusal names what the tag expects.
_EXPECTS = {"int": "a whole number", "number": "a number", "string": "text", "bool": "a boolean"}


def _tag_value(v: Violations, path: str, spec: TagSpec, value: router_pb2.TagValue) -> TagScalar | None:
    """The decoded value when it has the declared type and lies inside the declared set, range or length."""
    which = value.WhichOneof("value")
    if which is None:
        v.add(path, "a value is required")
        return None
    if which not in _ACCEPTS[spec.type]:
        v.add(path, f"tag {spec.name!r} takes {_EXPECTS[spec.type]}; got {which}")
        return None
    raw: TagScalar = getattr(value, which)
    problem = spec.refusal(raw)
    if problem is not None:
        v.add(path, problem)
        return None
    return raw


def _tags(v: Violations, request: router_pb2.RouteApplicantRequest, snap: Snapshot) -> dict[str, TagScalar]:
    """The typed tags a decision may use. Free-text tags are checked, then dropped here, so they never reach
    the policy, the recorded inputs (inputs_json), a lead or a partner."""
    attributes: dict[str, TagScalar] = {}
    if len(request.tags) > MAX_TAGS:
        v.add("tags", f"at most {MAX_TAGS} tags")
        return attributes
    for name in sorted(request.tags):
        path = f"tags[{name}]"
        spec = snap.tags.get(name)
        if spec is None or spec.derived:
            v.add(path, f"undeclared tag {name!r}" if spec is None else f"{name!r} comes from its own request field")
            continue
        value = _tag_value(v, path, spec, request.tags[name])
        if value is not None and spec.kind != "free_text":
            attributes[name] = value
    return attributes


def _consents(v: Violations, request: router_pb2.RouteApplicantRequest) -> None:
    for i, consent in enumerate(request.consents):
        path = f"consents[{i}]"
        if not consent.HasField("granted_at"):
            v.add(f"{path}.granted_at", "required")
        elif consent.HasField("expires_at") and consent.expires_at.ToDatetime() <= consent.granted_at.ToDatetime():
            v.add(f"{path}.expires_at", "must be after granted_at")
        if not consent.recipient_ids and not consent.recipient_classes:
            v.add(f"{path}.recipient_ids", "name at least one recipient id or recipient class")
        if not consent.purposes:
            v.add(f"{path}.purposes", "at least one purpose is required")


def to_command(request: router_pb2.RouteApplicantRequest, snap: Snapshot) -> RouteCommand:
    v = Violations()
    check_idempotency_key(v, request.idempotency_key)
    if not request.channel:
        v.add("channel", "required")
    elif request.channel not in snap.channels:
        v.add("channel", f"unknown channel {request.channel!r}")
    elif request.scenario not in snap.channels[request.channel]:
        v.add("scenario", f"unknown scenario {request.scenario!r} for channel {request.channel!r}")
    check_customer_ref(v, request.applicant.ref, "applicant.ref")
    if request.device_ref:
        check_customer_ref(v, request.device_ref, "device_ref")
    if request.phone_hash and not _HASH.match(request.phone_hash):
        v.add(
            "phone_hash",
            "must be the lower-case hex SHA-256 of the phone number; raw phone numbers are refused"
            if _DIGITS.match(request.phone_hash)
            else "must be 64 lower-case hex characters (SHA-256)",
        )
    _consents(v, request)
    if request.HasField("requested_amount") and request.requested_amount.fen < 0:
        v.add("requested_amount.fen", "must not be negative")
    if not 0 <= request.term_months <= MAX_TERM_MONTHS:
        v.add("term_months", f"must be between 0 and {MAX_TERM_MONTHS}")
    attributes = _tags(v, request, snap)
    v.raise_if_any()
    if request.HasField("requested_amount"):
        attributes["requested_amount_fen"] = request.requested_amount.fen
    if request.term_months:
        attributes["term_months"] = request.term_months
    attributes["channel"] = request.channel
    attributes["scenario"] = request.scenario
    return RouteCommand(
        key=request.idempotency_key.value,
        fingerprint=fingerprint(request),
        applicant_ref=request.applicant.ref,
        device_ref=request.device_ref or None,
        channel=request.channel,
        scenario=request.scenario,
        attributes=attributes,
        request=request,
    )


def check_window(v: Violations, window: types_pb2.TimeWindow, path: str = "window") -> tuple[datetime, datetime]:
    start = window.start.ToDatetime(tzinfo=UTC) if window.HasField("start") else None
    end = window.end.ToDatetime(tzinfo=UTC) if window.HasField("end") else None
    if start is None:
        v.add(f"{path}.start", "required")
    if end is None:
        v.add(f"{path}.end", "required")
    if _has_local_days(v, start, end, path) and start is not None and end is not None:
        if end <= start:
            v.add(f"{path}.end", "must be after start")
        elif end - start > MAX_WINDOW:
            v.add(f"{path}.end", f"window must be at most {MAX_WINDOW.days} days")
    return start or datetime.min.replace(tzinfo=UTC), end or datetime.min.replace(tzinfo=UTC)


def _has_local_days(v: Violations, start: datetime | None, end: datetime | None, path: str) -> bool:
    """Whether the given ends lie where every time zone has a local day for them."""
    ok = True
    if start is not None and start < FIRST_START:
        v.add(f"{path}.start", f"must be at or after {_utc_text(FIRST_START)} {_LOCAL_DAYS}")
        ok = False
    if end is not None and end > LAST_END:
        v.add(f"{path}.end", f"must be at or before {_utc_text(LAST_END)} {_LOCAL_DAYS}")
        ok = False
    return ok


def _utc_text(at: datetime) -> str:
    # isoformat, not strftime: %Y does not pad year 1 to four digits on every platform.
    return at.isoformat().replace("+00:00", "Z")


def report_window(request: router_pb2.GetRoutingReportRequest) -> tuple[datetime, datetime]:
    v = Violations()
    window = check_window(v, request.window)
    v.raise_if_any()
    return window


def what_if_window(request: router_pb2.WhatIfRequest) -> tuple[datetime, datetime]:
    """The replay window; also checks that a candidate is given and the sample count."""
    v = Violations()
    window = check_window(v, request.window)
    if request.WhichOneof("candidate") is None:
        v.add("version", "give a policy version or a config_yaml document")
    if not 0 <= request.max_samples <= MAX_WHAT_IF_SAMPLES:
        v.add("max_samples", f"must be between 0 and {MAX_WHAT_IF_SAMPLES}")
    v.raise_if_any()
    return window


def candidate_mode(request: router_pb2.SetCandidateRequest) -> Mode:
    v = Violations()
    mode = MODE_FROM_PROTO.get(request.mode)
    if mode is None:
        v.add("mode", "unknown mode")
    elif mode != Mode.NONE and request.WhichOneof("candidate") is None:
        v.add("version", "give a policy version or a config_yaml document")
    if not 0.0 <= request.share <= 1.0:
        v.add("share", "must be between 0 and 1")
    v.raise_if_any()
    assert mode is not None
    return mode


def loan_drawn(request: router_pb2.RecordLoanDrawnRequest, now: datetime) -> datetime | None:
    """RecordLoanDrawn's fields; returns when the loan was drawn (None: now)."""
    v = Violations()
    check_idempotency_key(v, request.idempotency_key)
    v.check(bool(request.decision_id), "decision_id", "required")
    v.check(request.amount.fen > 0, "amount.fen", "must be more than zero")
    drawn_at = request.drawn_at.ToDatetime(tzinfo=UTC) if request.HasField("drawn_at") else None
    if drawn_at is not None and drawn_at > now + timedelta(minutes=5):
        v.add("drawn_at", "is more than 5 minutes in the future")
    v.raise_if_any()
    return drawn_at


def required(field: str, value: str) -> None:
    v = Violations()
    v.check(bool(value), field, "required")
    v.raise_if_any()
