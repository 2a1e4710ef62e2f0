"""Fallback waves: the campaign's fallback (兜底) arm offered, in waves, to customers who claimed a coupon
and have not redeemed in the campaign. Each wave is a touch within the contact caps, quiet hours and
opt-out; a wave the contact policy refuses is deferred (its fate says why) and retried on a later pass,
never dropped. A customer's waves and triggered touches due together are tried in campaign priority
order (service/touches.py). Passes running at once send each wave once: counting the wave on the coupon
is conditional on the count the pass read."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.db import Database
from services.rewards.config import Campaign
from services.rewards.domain import contact, fallback
from services.rewards.runtime import ConfigView, PolicyRuntime, campaign_active
from services.rewards.service.touches import Finder, customer_unit
from services.rewards.store import contacts, coupons, decisions, fates

BATCH = 500
SOURCE = "FALLBACK"
T = TypeVar("T")
Unit = Callable[[AsyncSession], Awaitable[T]]


class _Deferred(Exception):
    """Rolls back one wave's savepoint: the customer may not be touched now (the reason), so the wave waits
    for a later pass."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Wave:
    """One fallback wave due now (a DueTouch of service/touches.py)."""

    view: ConfigView
    dialect: str
    campaign: Campaign
    coupon_id: str
    sent: int  # waves sent before this one
    customer: str
    decision: dict[str, Any]
    now: datetime

    @property
    def key(self) -> str:
        return f"fallback/{self.coupon_id}/{self.sent + 1}"

    @property
    def rank(self) -> tuple[int, str, str, str]:
        return (-self.campaign.priority, self.campaign.id, "fallback", self.coupon_id)

    async def attempt(self, conn: AsyncConnection, tz: ZoneInfo) -> int:
        """The wave in its own savepoint: a deferred one takes back its wave count and nothing else."""
        try:
            async with conn.begin_nested():
                if not await self._send(conn, tz):
                    return 0  # another pass got it
        except _Deferred as deferred:
            await fates.record(
                conn, self.dialect, self.campaign.id, self.key, SOURCE, self.customer, deferred.reason, self.now
            )
            return 0
        await fates.record(conn, self.dialect, self.campaign.id, self.key, SOURCE, self.customer, None, self.now)
        return 1

    async def _send(self, conn: AsyncConnection, tz: ZoneInfo) -> bool:
        rules = self.view.cfg.contact
        if not await coupons.take_wave(conn, self.coupon_id, self.sent):
            return False
        if self.customer in self.view.opt_out:
            raise _Deferred(contact.OPTED_OUT)
        if contact.in_quiet_hours(self.now, tz, rules.quiet_hours):
            raise _Deferred(contact.QUIET_HOURS)
        refused = await contacts.take_touch(conn, self.dialect, self.customer, contact.day_key(self.now, tz), rules)
        if refused:
            raise _Deferred(refused)  # the wave count rolls back; retried on a later pass
        await decisions.insert_decision(conn, self.decision)
        return True


class SendFallbackWaves:
    def __init__(self, db: Database, run_unit: Callable[[Unit[int]], Awaitable[int]], runtime: PolicyRuntime) -> None:
        self.db, self.run_unit, self.runtime = db, run_unit, runtime
        self.others: list[Finder] = []  # the other kinds of due touches (the composition root sets them)

    async def __call__(self, view: ConfigView, now: datetime) -> int:
        """Sends every wave due at `now`; returns how many touches were made. One unit of work per customer
        tries the customer's waves and other due touches (triggered ones) in campaign priority order, so
        when the caps leave room for fewer than are due the higher priority wins; the others are deferred
        (their fate records why). The units of one pass are submitted together so they share commits."""
        by_customer: dict[str, list[_Wave]] = {}
        for campaign in view.cfg.campaigns:
            if campaign.fallback is not None and campaign_active(campaign, now):
                fb = campaign.fallback
                async with self.db.report() as session:
                    candidates = await coupons.fallback_candidates(
                        session, campaign.id, fb.waves, fallback.claimed_by(fb, now), BATCH
                    )
                for coupon_id, customer, claimed_at, sent, segment in candidates:
                    wave = self._wave(view, campaign, coupon_id, customer, claimed_at, sent, segment, now)
                    if wave is not None:
                        by_customer.setdefault(wave.customer, []).append(wave)
        units = [customer_unit(view, c, waves, self.others, now) for c, waves in by_customer.items()]
        sent = await asyncio.gather(*(self.run_unit(unit) for unit in units), return_exceptions=True)
        return sum(n for n in sent if isinstance(n, int))

    async def due_for(self, conn: AsyncConnection, view: ConfigView, customer: str, now: datetime) -> list[_Wave]:
        """The customer's waves due at `now` (a Finder of service/touches.py)."""
        if not any(c.fallback is not None for c in view.cfg.campaigns):
            return []
        waves = []
        for coupon_id, campaign_id, claimed_at, sent, segment in await coupons.fallback_candidates_of(conn, customer):
            campaign = view.campaigns.get(str(campaign_id))
            if campaign is not None and campaign.fallback is not None and campaign_active(campaign, now):
                wave = self._wave(view, campaign, coupon_id, customer, claimed_at, sent, segment, now)
                waves += [wave] if wave is not None else []
        return waves

    def _wave(
        self,
        view: ConfigView,
        campaign: Campaign,
        coupon_id: str,
        customer: str,
        claimed_at: datetime,
        sent: int,
        segment: str,
        now: datetime,
    ) -> _Wave | None:
        fb = campaign.fallback
        assert fb is not None
        if sent >= fb.waves or fallback.wave_due(fb, claimed_at, sent) > now:
            return None
        arm = campaign.arm(fb.arm)
        assert arm is not None
        decision = {
            "id": uuid.uuid4().hex,
            "campaign_id": campaign.id,
            "customer_ref": customer,
            "decided_at": now,
            "outcome": "OFFERED",
            "reason": fallback.reason(sent),
            "segment": segment,
            "arm_id": arm.id,
            "propensity": 1.0,
            "lam": self.runtime.campaign(view.cfg, campaign.id).pacer.lam,
            "config_version": view.version,
            "claim_by": now + timedelta(hours=campaign.offer_ttl_hours),
            "claimed": False,
            "converted": False,
            "wave": sent + 1,
            **decisions.offered_terms(arm),
        }
        return _Wave(view, self.db.dialect, campaign, coupon_id, sent, customer, decision, now)
