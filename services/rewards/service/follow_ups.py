"""ListFollowUps: the follow-up list for ops, page by page — customers a wave 4 trigger put on it and
touches routed to it past their validity — with the customer's hashed reference (never a name, phone or
ID number: rewards holds none), their time zone and local day, and why.

A page token is the last row's key (time, trigger, customer, entry), so paging is stable while new
follow-ups arrive."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from services.common.clock import Clock
from services.common.db import Database
from services.common.errors import Violations
from services.common.request_rules import is_ascii_token
from services.rewards.domain import contact
from services.rewards.runtime import ConfigView
from services.rewards.service.wire import timestamp
from services.rewards.store import history
from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2

DEFAULT_DAYS = 7
DEFAULT_PAGE, MAX_PAGE = 500, 1000
MAX_ENTRY = 2**31 - 1  # journey_steps.entry is a 32-bit INTEGER on PostgreSQL

# A page token's key: the last row's (at, trigger, customer, entry).
Cursor = tuple[datetime, str, str, int]


def _token(row: Cursor) -> str:
    at, trigger, customer, entry = row
    raw = json.dumps([at.astimezone(UTC).isoformat(), trigger, customer, entry]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(v: Violations, token: str) -> Cursor | None:
    """The row key a page token names (None: the first page). Anything but a key this server could have
    issued is refused here: an out-of-range number or time would otherwise fail in the database as
    INTERNAL."""
    if not token:
        return None
    cursor = _decode(token)
    if cursor is None:
        v.add("page_token", "must be a next_page_token ListFollowUps returned")
    return cursor


def _decode(token: str) -> Cursor | None:
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # bad base64, UTF-8 or JSON are all ValueErrors
        return None
    if not isinstance(key, list) or len(key) != 4:
        return None
    at, trigger, customer, entry = key
    when = _utc(at)
    if when is None or not _is_id(trigger) or not _is_id(customer) or not _is_entry(entry):
        return None
    return when, trigger, customer, entry


def _no_constant(name: str) -> NoReturn:
    """json.loads takes NaN and ±Infinity by default; no key holds one."""
    raise ValueError(f"{name} in a page token")


def _utc(value: object) -> datetime | None:
    """The instant of an ISO time with a UTC offset, if it has a UTC equivalent (the column is UTC: a
    naive time cannot be bound, and year 1 at +14:00 has no UTC instant)."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
        return at.astimezone(UTC) if at.utcoffset() is not None else None
    except (ValueError, OverflowError):
        return None


def _is_id(value: object) -> bool:
    """A trigger id or customer ref as the edge takes them: a NUL or an unpaired surrogate (both fine in
    JSON) cannot be bound on PostgreSQL."""
    return isinstance(value, str) and is_ascii_token(value)


def _is_entry(value: object) -> bool:
    # bool is an int subclass; true is no entry number.
    return type(value) is int and 0 <= value <= MAX_ENTRY


def _days_before(end: datetime, days: int) -> datetime:
    """``days`` before ``end``, or the first representable instant when that would be earlier (an
    ``until`` in the first days of year 1 is valid input)."""
    first = datetime.min.replace(tzinfo=UTC)
    return end - timedelta(days=days) if end - first > timedelta(days=days) else first


class ListFollowUps:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock

    async def __call__(
        self, request: rewards_pb2.ListFollowUpsRequest, view: ConfigView
    ) -> rewards_pb2.ListFollowUpsResponse:
        now = self.clock.now()
        # No `until`: everything up to now, this very moment's rows included.
        until = request.until.ToDatetime(tzinfo=UTC) if request.HasField("until") else None
        since = _days_before(until or now, DEFAULT_DAYS)
        if request.HasField("since"):
            since = request.since.ToDatetime(tzinfo=UTC)
        v = Violations()
        v.check(until is None or since < until, "since", "must be before until")
        v.check(0 <= request.page_size <= MAX_PAGE, "page_size", f"must be 0 (default {DEFAULT_PAGE}) to {MAX_PAGE}")
        if request.campaign_id and request.campaign_id not in view.campaigns:
            v.add("campaign_id", "not a campaign of the running config")
        after = _after(v, request.page_token)
        v.raise_if_any()
        size = request.page_size or DEFAULT_PAGE
        waves = {t.id: t.wave for t in view.cfg.triggers}
        async with self.db.report() as session:
            rows = await history.follow_ups(
                session, since, until, request.campaign_id, request.trigger_id, after, size + 1
            )
            page = rows[:size]
            customers = {str(r[2]) for r in page}
            zones = await history.zones(session, customers)
            waited = await history.last_deferrals(session, {(str(r[1]), str(r[2]), int(r[3])) for r in page})
        response = rewards_pb2.ListFollowUpsResponse()
        for at, trigger, customer, entry, step, detail, campaign in page:
            zone = contact.zone_of(zones.get(str(customer)), view.tz)
            reason = detail if step != "FOLLOW_UP" else ""
            last = waited.get((str(trigger), str(customer), int(entry)))
            response.follow_ups.append(
                rewards_pb2.FollowUp(
                    trigger_id=trigger,
                    campaign_id=campaign,
                    wave=waves.get(str(trigger), 0),
                    customer=types_pb2.CustomerRef(ref=customer),
                    entry=entry,
                    kind=step,
                    reason=f"{reason}; waited for {last}" if last and reason else reason or (last or ""),
                    at=timestamp(at),
                    time_zone=zone.key,
                    local_day=at.astimezone(zone).date().isoformat(),
                )
            )
        if len(rows) > size:
            at, trigger, customer, entry = page[-1][:4]
            response.next_page_token = _token((at, str(trigger), str(customer), int(entry)))
        return response
