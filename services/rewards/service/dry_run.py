"""PreviewTriggers: the last days of recorded events replayed through draft triggers, with no side effects.

The drafts come as YAML (a `triggers:` list) and are checked as a config reload would check them, against
the running config's campaigns. History is read, never written: rewards' own stream (outside events
ingested here and rewards' events) from its events table, growth's and the router's events from their
streams when their addresses are configured (a read: no cursor moves), the touches made (decisions,
journey steps) and what is kept per customer. The replay itself is domain/journey_replay.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import yaml
from pydantic import ValidationError

from services.common.clock import Clock
from services.common.config import describe
from services.common.consumer import read_peer
from services.common.db import Database
from services.common.errors import InvalidArgument
from services.common.event_config import Peer
from services.rewards.config import RewardsConfig, Trigger
from services.rewards.domain import contact, holdout, journey
from services.rewards.domain.journey_replay import Entry, History, Outcome, Recorded, Replay, touches_histogram
from services.rewards.runtime import ConfigView, campaign_active
from services.rewards.service.wire import timestamp
from services.rewards.store import history
from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2

MAX_DAYS = 90
MAX_ENTRIES = 10_000
WEEK = timedelta(days=contact.WINDOW_DAYS)
# What the peers' streams tell about a customer that a trigger's conditions or risk screen read.
_LEVELS, _VERDICTS = ("growth", "level_changed"), ("router", "decision_made")


def drafts_of(cfg: RewardsConfig, text: str) -> tuple[list[Trigger], RewardsConfig]:
    """The draft triggers and the config they are checked in (the running one with the drafts replacing
    live triggers of the same id), or INVALID_ARGUMENT naming what is wrong."""
    try:
        document = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        raise InvalidArgument.single("config_yaml", f"not YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("triggers"), list) or not document["triggers"]:
        raise InvalidArgument.single("config_yaml", "must be YAML with a non-empty `triggers:` list")
    ids = {t.get("id") for t in document["triggers"] if isinstance(t, dict)}
    merged = cfg.model_dump(mode="json")
    merged["triggers"] = [t for t in merged["triggers"] if t["id"] not in ids] + document["triggers"]
    try:
        checked = RewardsConfig.model_validate(merged)
    except ValidationError as exc:
        raise InvalidArgument.single("config_yaml", describe(exc)[0][:400]) from exc
    return [t for t in checked.triggers if t.id in ids], checked


def _needs(drafts: Sequence[Trigger]) -> dict[str, set[str]]:
    """Per stream, the event types the replay reads: what the drafts enter, exit and screen on, and the
    peers' events their conditions and risk screens read."""
    wanted = journey.listens_to(drafts)
    if any(t.when.growth_levels for t in drafts):
        wanted.setdefault(_LEVELS[0], set()).add(_LEVELS[1])
    if any(t.when.excluded_risk or t.risk for t in drafts):
        wanted.setdefault(_VERDICTS[0], set()).add(_VERDICTS[1])
    return wanted


class PreviewTriggers:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock

    async def __call__(
        self, request: rewards_pb2.PreviewTriggersRequest, view: ConfigView
    ) -> rewards_pb2.PreviewTriggersResponse:
        now = self.clock.now()
        most = min(MAX_DAYS, view.cfg.events.retention_days)
        if not 1 <= request.days <= most:
            raise InvalidArgument.single("days", f"must be 1 to {most} (the events' retention)")
        drafts, cfg = drafts_of(view.cfg, request.config_yaml)
        since = now - timedelta(days=request.days)
        # Earlier events still matter: the flags a screen looks back on, the event an `after` window
        # counts from, the touches of the rolling week.
        back = [t.risk.within_days for t in drafts if t.risk] + [t.after.to_day + 1 for t in drafts if t.after]
        lookback = since - max(WEEK, timedelta(days=max(back, default=0)))
        wanted, notes = _needs(drafts), []
        async with self.db.report() as session:
            events = await history.own_events(session, lookback, now, wanted.get("rewards", set()))
        for peer in ("growth", "router"):
            if peer in wanted:
                found, note = await _peer_events(cfg.events.peers.get(peer), peer, wanted[peer], lookback, now)
                events += found
                notes += [note] if note else []
        events.sort(key=lambda e: e.at)
        read = {peer for peer in wanted if not any(n.startswith(f"{peer}:") for n in notes)}
        async with self.db.report() as session:
            touches = await history.touches(session, lookback, now, {t.id for t in drafts})
            known = await _known(session, view, drafts, {e.customer for e in events}, read)
        past = History(events, touches, *known)
        replay = Replay(cfg, drafts, campaign_active)
        outcome = replay.run(past, since, now)
        return _response(replay, drafts, outcome, since, now, notes, list_entries=request.list_entries)


async def _peer_events(
    settings: Peer | None, peer: str, types: set[str], since: datetime, until: datetime
) -> tuple[list[Recorded], str]:
    if settings is None or not settings.address:
        return [], f"{peer}: no address configured (events.peers.{peer}); its events are not replayed"
    try:
        found = await read_peer(settings, types)
    except grpc.aio.AioRpcError as exc:
        return [], f"{peer}: its stream could not be read ({exc.code().name}); its events are not replayed"
    recorded = []
    for e in found:
        at = e.occurred_at.ToDatetime(tzinfo=UTC)
        if since <= at <= until:
            recorded.append(Recorded(at, journey.qualified(peer, e.type), e.customer.ref, dict(e.data)))
    return recorded, ""


async def _known(
    session: Any, view: ConfigView, drafts: Sequence[Trigger], customers: set[str], read: set[str]
) -> tuple[dict[str, str], dict[tuple[str, str], str], dict[str, Any], dict[str, Any], frozenset[str]]:
    """Zones, recorded groups, the growth level and risk verdict kept (when the peer's stream was not
    read), and who is opted out, of the customers the replay sees."""
    levels: dict[str, Any] = {}
    verdicts: dict[str, Any] = {}
    for ref, level, level_at, destination, tier, reasons, risk_at in await history.inputs(session, customers):
        if level and "growth" not in read:
            levels[str(ref)] = (str(level), level_at)
        if risk_at is not None and "router" not in read:
            verdicts[str(ref)] = journey.KeptRisk(destination or "", tier or "", reasons or "", risk_at, {})
    opted = await history.opted_out(session, customers)
    return (
        await history.zones(session, customers),
        await history.groups(session, {t.campaign for t in drafts}, customers),
        levels,
        verdicts,
        frozenset(opted | (set(view.opt_out) & customers)),
    )


def _trigger_row(trigger: Trigger, entries: Sequence[Entry]) -> rewards_pb2.DryRunTrigger:
    fates: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for e in entries:
        fates[e.fate] = fates.get(e.fate, 0) + 1
        for r in e.deferred:
            reasons[r] = reasons.get(r, 0) + 1
    outside = (journey.SCREENED, journey.REENTRY_BLOCKED)
    entered = [e for e in entries if e.fate not in outside]
    return rewards_pb2.DryRunTrigger(
        trigger_id=trigger.id,
        campaign_id=trigger.campaign,
        wave=trigger.wave,
        entered=len(entered),
        screened=fates.get(journey.SCREENED, 0),
        held_out=sum(1 for e in entered if e.grp == holdout.HOLDOUT),
        touched=fates.get(journey.TOUCHED, 0),
        would_have_touched=fates.get(journey.WOULD_HAVE_TOUCHED, 0),
        deferred=sum(1 for e in entries if e.deferred),
        deferred_by_reason=[rewards_pb2.ReasonCount(reason=r, count=n) for r, n in sorted(reasons.items())],
        routed=fates.get(journey.ROUTED, 0),
        exited=fates.get(journey.EXITED, 0),
        reentry_blocked=fates.get(journey.REENTRY_BLOCKED, 0),
        follow_up=fates.get(journey.FOLLOW_UP, 0),
        waiting=fates.get("WAITING", 0),
    )


def _response(
    replay: Replay,
    drafts: Sequence[Trigger],
    outcome: Outcome,
    since: datetime,
    until: datetime,
    notes: list[str],
    *,
    list_entries: bool,
) -> rewards_pb2.PreviewTriggersResponse:
    grouped: Mapping[str, list[Entry]] = {t.id: [e for e in outcome.entries if e.trigger.id == t.id] for t in drafts}
    histogram = touches_histogram(outcome.touches)
    response = rewards_pb2.PreviewTriggersResponse(
        since=timestamp(since),
        until=timestamp(until),
        events_replayed=outcome.events,
        triggers=[_trigger_row(t, grouped[t.id]) for t in drafts],
        displaced=[
            rewards_pb2.DisplacedTouches(source=s, reason=r, count=n) for (s, r), n in sorted(outcome.displaced.items())
        ],
        touches_per_customer_day=[rewards_pb2.TouchesPerDay(touches=k, customer_days=v) for k, v in histogram.items()],
        max_touches_per_customer_day=max(histogram, default=0),
        notes=notes,
    )
    if list_entries:
        for e in sorted(outcome.entries, key=lambda e: (e.entered_at, e.trigger.id, e.customer))[:MAX_ENTRIES]:
            at = e.at or e.entered_at
            response.entries.append(
                rewards_pb2.DryRunEntry(
                    trigger_id=e.trigger.id,
                    customer=types_pb2.CustomerRef(ref=e.customer),
                    entry=e.number,
                    fate=e.fate,
                    at=timestamp(at),
                    local_day=at.astimezone(replay.customer(e.customer).zone).date().isoformat(),
                    deferred_reasons=e.deferred,
                )
            )
    return response
