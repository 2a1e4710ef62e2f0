"""ListFollowUps: the follow-up list for ops, page by page — customers a wave 4 trigger put on it and
touches routed to it past their validity — with the customer's hashed reference (never a name, phone or
ID number: rewards holds none), their time zone and local day, and why.

A page token is the last row's key (time, trigger, customer, entry), so paging is stable while new
follow-ups arrive."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

from services.common.clock import Clock
from services.common.db import Database
from services.common.errors import InvalidArgument, Violations
from services.rewards.domain import contact
from services.rewards.runtime import ConfigView
from services.rewards.service.wire import timestamp
from services.rewards.store import history
from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2

DEFAULT_DAYS = 7
DEFAULT_PAGE, MAX_PAGE = 500, 1000


def _token(row: tuple[datetime, str, str, int]) -> str:
    at, trigger, customer, entry = row
    raw = json.dumps([at.astimezone(UTC).isoformat(), trigger, customer, entry]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(token: str) -> tuple[datetime, str, str, int] | None:
    if not token:
        return None
    try:
        at, trigger, customer, entry = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return datetime.fromisoformat(at), str(trigger), str(customer), int(entry)
    except (ValueError, TypeError) as exc:
        raise InvalidArgument.single("page_token", "must be a next_page_token ListFollowUps returned") from exc


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
        v.raise_if_any()
        after, size = _after(request.page_token), request.page_size or DEFAULT_PAGE
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
