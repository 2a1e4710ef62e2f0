"""Background work of the rewards service. Each job has a one-pass function (tests call it after moving
the ManualClock) and a loop that runs it periodically."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.app import Worker
from services.common.db import insert_ignoring_conflicts
from services.rewards import store
from services.rewards.domain import contact
from services.rewards.models import Assignment, Coupon, PolicyStateRow
from services.rewards.runtime import campaign_active

if TYPE_CHECKING:
    from services.rewards.app import RewardsApp

log = structlog.get_logger("skylane.rewards.workers")
BATCH = 500


class _Skip(Exception):
    """Rolls back one fallback offer's unit of work (its savepoint)."""


async def expire_pass(app: RewardsApp) -> int:
    """Expires claimed coupons past their validity and releases their budget reservations."""
    now, expired = app.clock.now(), 0
    while True:
        async with app.db.transaction() as session:
            # SKIP LOCKED (PostgreSQL; SQLite has one writer): a concurrent pass takes other coupons
            # instead of queueing behind this one for the same batch.
            due = (
                select(Coupon.id)
                .where(Coupon.state == "CLAIMED", Coupon.valid_until <= now)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
            ids = list((await session.execute(due)).scalars())
            if not ids:
                return expired
            # The state guard makes a concurrent redemption and this pass exclusive per coupon.
            rows = (
                await session.execute(
                    update(Coupon)
                    .where(Coupon.id.in_(ids), Coupon.state == "CLAIMED")
                    .values(state="EXPIRED")
                    .returning(Coupon.campaign_id, Coupon.claim_day, Coupon.discount_fen)
                )
            ).all()
            per_campaign: dict[str, int] = defaultdict(int)
            per_day: dict[tuple[str, str], int] = defaultdict(int)
            for campaign_id, day, face in rows:
                per_campaign[campaign_id] += int(face)
                per_day[(campaign_id, day)] += int(face)
            for campaign_id, face in sorted(per_campaign.items()):
                await store.move_budget(session, campaign_id, -face, 0)
            for (campaign_id, day), face in sorted(per_day.items()):
                await store.release_day(session, campaign_id, day, face)
            expired += len(rows)
        if len(ids) < BATCH:
            return expired


async def fallback_pass(app: RewardsApp) -> int:
    """Issues the fallback (兜底) offer, in waves, to customers who claimed and did not redeem.

    Each offer is a touch within the contact caps, quiet hours and opt-out; a customer over a cap is
    retried on a later pass. The offers of one pass are units of work of the write batcher, submitted
    together so they share commits. Returns the number of fallback offers issued.
    """
    view, now = app.view(), app.clock.now()
    cfg, tz = view.cfg, view.tz
    if contact.in_quiet_hours(now, tz, cfg.contact.quiet_hours):
        return 0
    day, week = contact.day_key(now, tz), contact.week_key(now, tz)
    units: list[Callable[[AsyncSession], Awaitable[bool]]] = []
    for campaign in cfg.campaigns:
        fb = campaign.fallback
        if fb is None or not campaign_active(campaign, now):
            continue
        arm = campaign.arm(fb.arm)
        assert arm is not None
        async with app.db.report() as session:
            candidates = (
                await session.execute(
                    select(Coupon.id, Coupon.customer_ref, Coupon.claimed_at, Coupon.fallback_sent, Coupon.segment)
                    .join(
                        Assignment,
                        (Assignment.campaign_id == Coupon.campaign_id)
                        & (Assignment.customer_ref == Coupon.customer_ref),
                    )
                    .where(
                        Coupon.campaign_id == campaign.id,
                        Coupon.is_fallback.is_(False),
                        Coupon.state.in_(["CLAIMED", "EXPIRED"]),
                        Coupon.fallback_sent < fb.waves,
                        Coupon.claimed_at <= now - timedelta(hours=fb.delay_hours),
                        Assignment.redemptions == 0,
                    )
                    .limit(BATCH)
                )
            ).all()
        for coupon_id, customer, claimed_at, sent, segment in candidates:
            due = claimed_at + timedelta(hours=fb.delay_hours + sent * fb.wave_interval_hours)
            if due > now or customer in view.opt_out:
                continue
            decision = {
                "id": uuid.uuid4().hex,
                "campaign_id": campaign.id,
                "customer_ref": customer,
                "decided_at": now,
                "outcome": "OFFERED",
                "reason": f"FALLBACK_WAVE_{sent + 1}",
                "segment": segment,
                "arm_id": arm.id,
                "propensity": 1.0,
                "lam": app.runtime.campaign(cfg, campaign.id).pacer.lam,
                "config_version": view.version,
                "claim_by": now + timedelta(hours=campaign.offer_ttl_hours),
                "claimed": False,
                "converted": False,
                "wave": sent + 1,
            }
            units.append(_fallback_unit(app, coupon_id, sent, customer, day, week, decision))
    issued = await asyncio.gather(*(app.writes.run(unit) for unit in units), return_exceptions=True)
    return sum(1 for ok in issued if ok is True)


def _fallback_unit(
    app: RewardsApp, coupon_id: str, sent: int, customer: str, day: str, week: str, decision: dict[str, Any]
) -> Callable[[AsyncSession], Awaitable[bool]]:
    policy = app.config.model.contact

    async def unit(session: AsyncSession) -> bool:
        conn = await session.connection()
        bumped = await conn.execute(
            update(store.coupons)
            .where(store.coupons.c.id == coupon_id, store.coupons.c.fallback_sent == sent)
            .values(fallback_sent=sent + 1)
        )
        if int(bumped.rowcount) != 1:
            raise _Skip  # another pass got it
        if not await store.take_touch(conn, app.db.dialect, customer, day, week, policy.per_day, policy.per_week):
            raise _Skip  # over a cap or opted out: the wave bump rolls back, retried on a later pass
        await store.insert_decision(conn, decision)
        return True

    return unit


async def flush_policy(app: RewardsApp) -> None:
    """Persists λ of every campaign so a restart resumes pacing where it was."""
    if not app.runtime.campaigns:
        return
    now = app.clock.now()
    async with app.db.transaction() as session:
        for campaign_id, state in sorted(app.runtime.campaigns.items()):
            done = await session.execute(
                update(PolicyStateRow)
                .where(PolicyStateRow.campaign_id == campaign_id)
                .values(lam=state.pacer.lam, updated_at=now)
            )
            if int(done.rowcount) == 0:  # type: ignore[attr-defined]
                await session.execute(
                    insert_ignoring_conflicts(app.db.dialect, PolicyStateRow.__table__).values(
                        campaign_id=campaign_id, lam=state.pacer.lam, updated_at=now
                    )
                )


def loop(job_name: str, interval: float, job: Callable[[], Awaitable[object]]) -> Worker:
    async def run() -> None:
        while True:
            await asyncio.sleep(interval)  # sleep first: start-up and tests stay deterministic
            try:
                await job()
            except Exception:
                log.exception("worker_pass_failed", job=job_name)

    return run
