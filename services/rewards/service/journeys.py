"""Event-triggered journeys (config `triggers`, docs/journeys.md).

On every event a consumer applies (growth's, the router's, and rewards' own stream with the outside
events ingested here), in the consumer's unit of work, so a repeated delivery has no effect:
1. exits first: every active journey of the customer whose trigger names this event in `exit_on` ends at
   once, whatever it was waiting for;
2. an outside risk flag a trigger screens with is kept;
3. entry, per trigger on this event whose data and conditions are met: re-entry rules, then the risk
   screen (screened-out customers are recorded, never contacted), then the holdout split (the campaign's
   recorded group, the same for every entry and for requested offers), then the touch is due
   `delay_minutes` later inside the local window.

The touch pass sends what is due: one unit of work per customer, the customer's due touches in campaign
priority order, each a touch under the one contact ledger (services/rewards/store/contacts.py). A capped
touch is deferred while it is valid and then routed to the follow-up list; a held-out customer's touch
is recorded as WOULD_HAVE_TOUCHED; wave 4 puts the customer on the follow-up list. Each fate is a step
of the journey and a touch fate of the campaign's report."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.after_commit import after_commit
from services.common.clock import Clock
from services.common.consumer import Handler
from services.common.db import Database
from services.rewards.config import Campaign, Trigger
from services.rewards.domain import contact, holdout, journey
from services.rewards.domain.profile import Profile, unmet
from services.rewards.runtime import ConfigView, PolicyRuntime, campaign_active
from services.rewards.service import learning, outgoing
from services.rewards.service.touches import Finder, customer_unit, touch_customer
from services.rewards.service.unit import Learned
from services.rewards.store import contacts, decisions, fates, inputs
from services.rewards.store import journeys as store
from skylane.common.v1 import events_pb2

log = structlog.get_logger("skylane.rewards.journeys")
BATCH = 500
SOURCE = "TRIGGERED"
T = TypeVar("T")
Unit = Callable[[AsyncSession], Awaitable[T]]


class _Deferred(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Journeys:
    def __init__(
        self,
        db: Database,
        run_unit: Callable[[Unit[int]], Awaitable[int]],
        view: Callable[[], ConfigView],
        clock: Clock,
        runtime: PolicyRuntime,
    ) -> None:
        self.db, self.run_unit, self.view, self.clock = db, run_unit, view, clock
        self.runtime = runtime  # the running policy, whose passed-over visits a first offer censors
        self.dialect = db.dialect
        self.others: list[Finder] = []  # the other kinds of due touches (the composition root sets them)

    # --- events ------------------------------------------------------------------------------------

    def handler(self, peer: str, inner: Handler | None = None) -> Handler:
        """The consumer's handler for one peer: what it did before (`inner`), then the journeys."""

        async def handle(session: AsyncSession, event: events_pb2.DomainEvent) -> str:
            outcome = await inner(session, event) if inner is not None else "ignored"
            acted = await self.on_event(await session.connection(), self.view(), peer, event, self.clock.now())
            return "applied" if acted else outcome

        return handle

    async def on_event(
        self, conn: AsyncConnection, view: ConfigView, peer: str, event: events_pb2.DomainEvent, now: datetime
    ) -> bool:
        """Applies one event to the journeys; True when it changed any."""
        customer = event.customer.ref
        if not view.cfg.triggers or not customer:
            return False
        name = journey.qualified(peer, event.type)
        at = event.occurred_at.ToDatetime(tzinfo=UTC) if event.HasField("occurred_at") else now
        acted = await self._exits(conn, view, name, customer, now)
        if name.startswith("outside.") and any(t.risk and name[8:] in t.risk.flags for t in view.cfg.triggers):
            await store.keep_flag(conn, self.dialect, customer, name[8:], at)
            acted = True
        if name in journey.marked_events(view.cfg.triggers):  # an `after` window counts from it
            await store.keep_flag(conn, self.dialect, customer, journey.mark_key(name), at)
            acted = True
        due_at_once = False
        for trigger in view.cfg.triggers:
            if trigger.event == name and journey.data_met(trigger, event.data):
                entered, due = await self._enter(conn, view, trigger, customer, at, now)
                acted, due_at_once = acted or entered, due_at_once or due
        if due_at_once:
            # A real-time trigger: the touch is made in the entry's own unit of work (no pass to wait for),
            # with the customer's other due touches, in priority order, as a pass would.
            await touch_customer(conn, view, customer, [], [self.due_for, *self.others], now)
        return acted

    async def _exits(self, conn: AsyncConnection, view: ConfigView, name: str, customer: str, now: datetime) -> bool:
        exited = False
        by_id = {t.id: t for t in view.cfg.triggers if name in t.exit_on}
        if not by_id:
            return False  # no trigger exits on this event: nothing to look up
        for trigger_id, entries in await store.active_of(conn, customer):
            trigger = by_id.get(str(trigger_id))
            if trigger is None or name not in trigger.exit_on:
                continue
            if await store.finish(conn, trigger.id, customer, int(entries), journey.EXITED, "", now):
                await store.add_step(
                    conn, self.dialect, trigger.id, trigger.campaign, customer, int(entries), journey.EXITED, now, name
                )
                exited = True
        return exited

    async def _enter(
        self, conn: AsyncConnection, view: ConfigView, trigger: Trigger, customer: str, at: datetime, now: datetime
    ) -> tuple[bool, bool]:
        """(whether the journeys changed, whether an entry's touch is due at once)."""
        campaign = view.campaigns[trigger.campaign]
        if not campaign_active(campaign, now):
            return False, False
        row = await store.journey_of(conn, trigger.id, customer)
        if row is not None and not journey.may_reenter(trigger, str(row.state), row.entered_at, now):
            if row.state != journey.ACTIVE:
                await store.add_step(
                    conn,
                    self.dialect,
                    trigger.id,
                    campaign.id,
                    customer,
                    int(row.entries),
                    journey.REENTRY_BLOCKED,
                    now,
                )
            return row.state != journey.ACTIVE, False
        # Each read only when the trigger uses it (a real-time trigger's entry is a few statements).
        reads_inputs = trigger.when.growth_levels or trigger.when.excluded_risk or trigger.risk
        kept = await inputs.inputs_of(conn, customer) if reads_inputs else None
        if unmet(trigger.when, _profile(kept)):
            return False, False
        zoned = trigger.window is not None or trigger.after is not None  # else due_at needs no local time
        tz = contact.zone_of(await contacts.kept_zone(conn, customer), view.tz) if zoned else view.tz
        flags = await store.flags_of(conn, customer) if trigger.risk or trigger.after else {}
        if not journey.after_met(trigger.after, flags, at, tz):
            return False, False
        due = journey.due_at(trigger, at, tz)
        until = due + timedelta(hours=trigger.validity_hours)
        screened = journey.screened_out(trigger.risk, _kept_risk(kept, flags), now)
        if screened:
            entry = await store.enter(
                conn, self.dialect, trigger.id, campaign.id, customer,
                grp="", state=journey.SCREENED, touch="", now=now, due=due, until=until,
            )  # fmt: skip
            await store.add_step(
                conn, self.dialect, trigger.id, campaign.id, customer, entry, journey.SCREENED, now, screened
            )
            return True, False
        first = holdout.assign(campaign.id, customer, campaign.holdout_share)
        grp = await store.group_of(conn, self.dialect, campaign.id, customer, first, now)
        entry = await store.enter(
            conn, self.dialect, trigger.id, campaign.id, customer,
            grp=grp, state=journey.ACTIVE, touch="PENDING", now=now, due=due, until=until,
        )  # fmt: skip
        await store.add_step(conn, self.dialect, trigger.id, campaign.id, customer, entry, journey.ENTERED, now)
        if grp == holdout.HOLDOUT:
            await store.add_step(conn, self.dialect, trigger.id, campaign.id, customer, entry, journey.HELD_OUT, now)
        return True, due <= now

    # --- the touch pass ----------------------------------------------------------------------------

    async def send_due(self, view: ConfigView, now: datetime) -> int:
        """Makes the touches due at `now`; returns how many were made (held-out customers' would-have
        touches, deferrals and follow-ups are recorded, not counted). Each customer's unit also tries their
        due fallback waves, so the campaign priority decides between the two kinds (service/touches.py)."""
        async with self.db.report() as session:
            rows = await store.due(session, now, BATCH)
        by_customer: dict[str, list[_Due]] = {}
        for trigger_id, customer, entries, grp, until in rows:
            found = self._due(view, str(trigger_id), str(customer), int(entries), str(grp), until, now)
            if found is not None:
                by_customer.setdefault(found.customer, []).append(found)
        units = [customer_unit(view, c, due, self.others, now) for c, due in by_customer.items()]
        done = await asyncio.gather(*(self.run_unit(unit) for unit in units), return_exceptions=True)
        for failed in (d for d in done if isinstance(d, BaseException)):
            log.error("journey_touch_failed", error=type(failed).__name__, detail=str(failed)[:200])
        return sum(n for n in done if isinstance(n, int))

    async def due_for(self, conn: AsyncConnection, view: ConfigView, customer: str, now: datetime) -> list[_Due]:
        """The customer's triggered touches due at `now` (a Finder of service/touches.py)."""
        if not view.cfg.triggers:
            return []
        found = (
            self._due(view, str(t), customer, int(e), str(g), until, now)
            for t, e, g, until in await store.due_of(conn, customer, now)
        )
        return [d for d in found if d is not None]

    def _due(
        self, view: ConfigView, trigger_id: str, customer: str, entries: int, grp: str, until: datetime, now: datetime
    ) -> _Due | None:
        trigger = next((t for t in view.cfg.triggers if t.id == trigger_id), None)
        if trigger is None:
            return None
        return _Due(self, view, trigger, customer, entries, grp, until, now)

    async def _one(
        self,
        conn: AsyncConnection,
        view: ConfigView,
        campaign: Campaign,
        trigger: Trigger,
        customer: str,
        entries: int,
        grp: str,
        until: datetime,
        tz: ZoneInfo,
        now: datetime,
    ) -> int:
        """One due touch: 1 when the customer was touched."""
        step = _Step(self.dialect, conn, trigger, customer, entries, now)
        if trigger.wave == journey.FOLLOW_UP_WAVE or grp == holdout.HOLDOUT:
            touch = journey.FOLLOW_UP if trigger.wave == journey.FOLLOW_UP_WAVE else journey.WOULD_HAVE_TOUCHED
            if await store.finish(conn, trigger.id, customer, entries, journey.DONE, touch, now):
                await step(touch)
            return 0
        if now >= until:  # deferred past its validity: routed to the follow-up list, never dropped
            if await store.finish(conn, trigger.id, customer, entries, journey.DONE, journey.ROUTED, now):
                await step(journey.ROUTED, "VALIDITY_PASSED")
                await fates.record(
                    conn,
                    self.dialect,
                    campaign.id,
                    step.key,
                    SOURCE,
                    customer,
                    "VALIDITY_PASSED",
                    now,
                    fate=journey.ROUTED,
                )
            return 0
        try:
            decision = await self._touch(conn, view, campaign, trigger, customer, entries, tz, now)
        except _Deferred as deferred:
            await store.defer(conn, trigger.id, customer, entries, now)
            await step(journey.DEFERRED, deferred.reason)
            await fates.record(conn, self.dialect, campaign.id, step.key, SOURCE, customer, deferred.reason, now)
            return 0
        if decision is None:
            return 0  # an exit or another pass ended the entry first
        await step(journey.TOUCHED, f"{decision['id']}:{trigger.next_product or decision['arm_id']}")
        await fates.record(conn, self.dialect, campaign.id, step.key, SOURCE, customer, None, now)
        return 1

    async def _touch(
        self,
        conn: AsyncConnection,
        view: ConfigView,
        campaign: Campaign,
        trigger: Trigger,
        customer: str,
        entries: int,
        tz: ZoneInfo,
        now: datetime,
    ) -> dict[str, Any] | None:
        """The touch: the entry ended, one touch counted, the offer recorded as a decision the customer can
        claim (a wave > 0: no claim slot, not learned from). Refused (_Deferred), nothing of it is left: the
        caps are judged before anything is counted, and an entry ended for a refused touch is opened again
        (one statement on the refused path, rather than a savepoint around every touch)."""
        rules = view.cfg.contact
        if customer in view.opt_out:
            raise _Deferred(contact.OPTED_OUT)
        if contact.in_quiet_hours(now, tz, rules.quiet_hours):
            raise _Deferred(contact.QUIET_HOURS)
        if not journey.in_window(trigger.window, now, tz):
            raise _Deferred("OUTSIDE_WINDOW")
        decision = _decision(view, campaign, trigger, customer, now)
        if not await store.finish(
            conn, trigger.id, customer, entries, journey.DONE, journey.TOUCHED, now, decision["id"]
        ):
            return None
        refused = await contacts.take_touch(conn, self.dialect, customer, contact.day_key(now, tz), rules)
        if refused:
            await store.reopen(conn, trigger.id, customer, entries, decision["id"], now)
            raise _Deferred(refused)
        await self._censor_passes(conn, view, campaign, customer, now)
        await decisions.insert_decision(conn, decision)
        await outgoing.offer_triggered(conn, self.dialect, decision, trigger.id, trigger.next_product, now)
        return decision

    async def _censor_passes(
        self, conn: AsyncConnection, view: ConfigView, campaign: Campaign, customer: str, now: datetime
    ) -> None:
        """A triggered offer is an offer of the campaign too: when it is the customer's first, it censors
        their passed-over visits as a requested offer does (read before the offer is recorded), once
        committed, as a restart's rebuild counts them."""
        if not view.params.passed_over:
            return
        lessons: Learned = []
        posteriors = self.runtime.campaign(view.cfg, campaign.id).posteriors
        since = view.params.baseline_window_start(now)
        await learning.censor_passes(conn, lessons, posteriors, campaign.id, customer, since, now)
        for lesson in lessons:
            after_commit(lesson)


@dataclass(frozen=True)
class _Due:
    """One triggered touch due now (a DueTouch of service/touches.py)."""

    journeys: Journeys
    view: ConfigView
    trigger: Trigger
    customer: str
    entries: int
    grp: str
    until: datetime
    now: datetime

    @property
    def key(self) -> str:
        return f"trigger/{self.trigger.id}/{self.customer}/{self.entries}"

    @property
    def rank(self) -> tuple[int, str, str, str]:
        campaign = self.view.campaigns[self.trigger.campaign]
        return (-campaign.priority, campaign.id, "trigger", self.trigger.id)

    async def attempt(self, conn: AsyncConnection, tz: ZoneInfo) -> int:
        campaign = self.view.campaigns[self.trigger.campaign]
        return await self.journeys._one(
            conn, self.view, campaign, self.trigger, self.customer, self.entries, self.grp, self.until, tz, self.now
        )


class _Step:
    """Records steps of one entry of one journey."""

    def __init__(
        self, dialect: str, conn: AsyncConnection, trigger: Trigger, customer: str, entry: int, now: datetime
    ) -> None:
        self.dialect, self.conn, self.trigger, self.customer, self.entry, self.now = (
            dialect, conn, trigger, customer, entry, now,
        )  # fmt: skip
        self.key = f"trigger/{trigger.id}/{customer}/{entry}"[:96]

    async def __call__(self, step: str, detail: str = "") -> None:
        await store.add_step(
            self.conn,
            self.dialect,
            self.trigger.id,
            self.trigger.campaign,
            self.customer,
            self.entry,
            step,
            self.now,
            detail,
        )


def _decision(view: ConfigView, campaign: Campaign, trigger: Trigger, customer: str, now: datetime) -> dict[str, Any]:
    arm = campaign.arm(trigger.arm) if trigger.arm else campaign.arms[0]
    assert arm is not None
    return {
        "id": uuid.uuid4().hex,
        "campaign_id": campaign.id,
        "customer_ref": customer,
        "decided_at": now,
        "outcome": "OFFERED",
        "reason": f"TRIGGERED_WAVE_{trigger.wave}",
        "segment": "triggered",
        "arm_id": arm.id,
        "propensity": 1.0,
        "lam": 0.0,
        "config_version": view.version,
        "claim_by": now + timedelta(hours=campaign.offer_ttl_hours),
        "claimed": False,
        "converted": False,
        "wave": trigger.wave,
        **decisions.offered_terms(arm),
    }


def _profile(kept: Any) -> Profile:
    if kept is None:
        return Profile()
    return Profile(
        growth_level=kept.growth_level or "",
        risk_destination=kept.risk_destination or "",
        risk_tier=kept.risk_tier or "",
    )


def _kept_risk(kept: Any, flags: dict[str, datetime]) -> journey.KeptRisk:
    return journey.KeptRisk(
        destination=(kept.risk_destination or "") if kept is not None else "",
        tier=(kept.risk_tier or "") if kept is not None else "",
        reasons=(kept.risk_reasons or "") if kept is not None else "",
        verdict_at=kept.risk_at if kept is not None else None,
        flags=flags,
    )
