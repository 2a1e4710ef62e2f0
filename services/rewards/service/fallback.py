"""Fallback waves: the campaign's fallback (兜底) arm offered, in waves, to customers who claimed a coupon
and have not redeemed in the campaign. Each wave is a touch within the contact caps, quiet hours and
opt-out; a wave the contact policy refuses is deferred (its fate says why) and retried on a later pass,
never dropped. A customer's waves due together are tried in campaign priority order. Passes running at
once send each wave once: counting the wave on the coupon is conditional on the count the pass read."""

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
    campaign: Campaign
    coupon_id: str
    sent: int  # waves sent before this one
    customer: str
    decision: dict[str, Any]

    @property
    def key(self) -> str:
        return f"fallback/{self.coupon_id}/{self.sent + 1}"


class SendFallbackWaves:
    def __init__(self, db: Database, run_unit: Callable[[Unit[int]], Awaitable[int]], runtime: PolicyRuntime) -> None:
        self.db, self.run_unit, self.runtime = db, run_unit, runtime

    async def __call__(self, view: ConfigView, now: datetime) -> int:
        """Sends every wave due at `now`; returns how many went out. One unit of work per customer tries
        the customer's waves in campaign priority order, so when the caps leave room for fewer than are due
        the higher priority wins; the others are deferred (their fate records why). The units of one pass
        are submitted together so they share commits."""
        by_customer: dict[str, list[_Wave]] = {}
        for campaign in view.cfg.campaigns:
            if campaign.fallback is not None and campaign_active(campaign, now):
                for wave in await self._waves_due(view, campaign, now):
                    by_customer.setdefault(wave.customer, []).append(wave)
        units = [
            self._customer_waves(view, sorted(waves, key=lambda w: (-w.campaign.priority, w.campaign.id)), now)
            for waves in by_customer.values()
        ]
        sent = await asyncio.gather(*(self.run_unit(unit) for unit in units), return_exceptions=True)
        return sum(n for n in sent if isinstance(n, int))

    async def _waves_due(self, view: ConfigView, campaign: Campaign, now: datetime) -> list[_Wave]:
        fb = campaign.fallback
        assert fb is not None
        arm = campaign.arm(fb.arm)
        assert arm is not None
        async with self.db.report() as session:
            candidates = await coupons.fallback_candidates(
                session, campaign.id, fb.waves, fallback.claimed_by(fb, now), BATCH
            )
        lam = self.runtime.campaign(view.cfg, campaign.id).pacer.lam
        waves: list[_Wave] = []
        for coupon_id, customer, claimed_at, sent, segment in candidates:
            if fallback.wave_due(fb, claimed_at, sent) > now:
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
            waves.append(_Wave(campaign, coupon_id, sent, customer, decision))
        return waves

    def _customer_waves(self, view: ConfigView, waves: list[_Wave], now: datetime) -> Unit[int]:
        rules, dialect = view.cfg.contact, self.db.dialect

        async def send(conn: AsyncConnection, wave: _Wave, tz: ZoneInfo) -> bool:
            if not await coupons.take_wave(conn, wave.coupon_id, wave.sent):
                return False  # another pass got it
            if wave.customer in view.opt_out:
                raise _Deferred(contact.OPTED_OUT)
            if contact.in_quiet_hours(now, tz, rules.quiet_hours):
                raise _Deferred(contact.QUIET_HOURS)
            refused = await contacts.take_touch(conn, dialect, wave.customer, contact.day_key(now, tz), rules)
            if refused:
                raise _Deferred(refused)  # the wave count rolls back; retried on a later pass
            await decisions.insert_decision(conn, wave.decision)
            return True

        async def unit(session: AsyncSession) -> int:
            conn, sent = await session.connection(), 0
            tz = contact.zone_of(await contacts.kept_zone(conn, waves[0].customer), view.tz)  # the customer's day
            # Each wave in its own savepoint: a deferred one takes back its wave count and nothing else.
            for wave in waves:
                try:
                    async with conn.begin_nested():
                        if not await send(conn, wave, tz):
                            continue
                except _Deferred as deferred:
                    await fates.record(
                        conn, dialect, wave.campaign.id, wave.key, SOURCE, wave.customer, deferred.reason, now
                    )
                    continue
                await fates.record(conn, dialect, wave.campaign.id, wave.key, SOURCE, wave.customer, None, now)
                sent += 1
            return sent

        return unit
