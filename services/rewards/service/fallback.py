"""Fallback waves: the campaign's fallback (兜底) arm offered, in waves, to customers who claimed a coupon
and have not redeemed in the campaign. Each wave is a touch within the contact caps, quiet hours and
opt-out; a customer over a cap is retried on a later pass. Passes running at once send each wave once:
counting the wave on the coupon is conditional on the count the pass read."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import Database
from services.rewards.config import Campaign
from services.rewards.domain import contact, fallback
from services.rewards.runtime import ConfigView, PolicyRuntime, campaign_active
from services.rewards.store import contacts, coupons, decisions

BATCH = 500
T = TypeVar("T")
Unit = Callable[[AsyncSession], Awaitable[T]]


class _Skip(Exception):
    """Rolls back one wave's unit of work (its savepoint): another pass sent it, or the customer may not be
    touched now."""


class SendFallbackWaves:
    def __init__(self, db: Database, run_unit: Callable[[Unit[bool]], Awaitable[bool]], runtime: PolicyRuntime) -> None:
        self.db, self.run_unit, self.runtime = db, run_unit, runtime

    async def __call__(self, view: ConfigView, now: datetime) -> int:
        """Sends every wave due at `now`; returns how many went out. The waves of one pass are units of
        work of the write batcher, submitted together so they share commits."""
        if contact.in_quiet_hours(now, view.tz, view.cfg.contact.quiet_hours):
            return 0
        units: list[Unit[bool]] = []
        for campaign in view.cfg.campaigns:
            if campaign.fallback is not None and campaign_active(campaign, now):
                units.extend(await self._waves_due(view, campaign, now))
        sent = await asyncio.gather(*(self.run_unit(unit) for unit in units), return_exceptions=True)
        return sum(1 for ok in sent if ok is True)

    async def _waves_due(self, view: ConfigView, campaign: Campaign, now: datetime) -> list[Unit[bool]]:
        fb = campaign.fallback
        assert fb is not None
        arm = campaign.arm(fb.arm)
        assert arm is not None
        async with self.db.report() as session:
            candidates = await coupons.fallback_candidates(
                session, campaign.id, fb.waves, fallback.claimed_by(fb, now), BATCH
            )
        day, week = contact.day_key(now, view.tz), contact.week_key(now, view.tz)
        lam = self.runtime.campaign(view.cfg, campaign.id).pacer.lam
        units: list[Unit[bool]] = []
        for coupon_id, customer, claimed_at, sent, segment in candidates:
            if fallback.wave_due(fb, claimed_at, sent) > now or customer in view.opt_out:
                continue
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
                "lam": lam,
                "config_version": view.version,
                "claim_by": now + timedelta(hours=campaign.offer_ttl_hours),
                "claimed": False,
                "converted": False,
                "wave": sent + 1,
            }
            units.append(self._wave(view, coupon_id, sent, customer, day, week, decision))
        return units

    def _wave(
        self, view: ConfigView, coupon_id: str, sent: int, customer: str, day: str, week: str, decision: dict[str, Any]
    ) -> Unit[bool]:
        rules, dialect = view.cfg.contact, self.db.dialect

        async def unit(session: AsyncSession) -> bool:
            conn = await session.connection()
            if not await coupons.take_wave(conn, coupon_id, sent):
                raise _Skip  # another pass got it
            if not await contacts.take_touch(conn, dialect, customer, day, week, rules.per_day, rules.per_week):
                raise _Skip  # over a cap or opted out: the wave count rolls back, retried on a later pass
            await decisions.insert_decision(conn, decision)
            return True

        return unit
