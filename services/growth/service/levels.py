"""Levels: immediate upgrades, reviews with grace, manual overrides and the progress a member sees."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.outbox import emit
from services.growth.config import GrowthConfig
from services.growth.domain import calendar, levels
from services.growth.domain.standing import MemberState, Progress, effective_level, progress, review_due
from services.growth.models import MemberRow
from services.growth.service.context import Deps
from services.growth.service.telemetry import level_changed
from services.growth.store import members
from services.growth.store.ledger import growth_since


async def window_growth(session: AsyncSession, cfg: GrowthConfig, member: str, now: datetime) -> int:
    tz = ZoneInfo(cfg.timezone)
    return await growth_since(session, member, calendar.window_start(cfg.levels, now, tz))


async def maybe_upgrade(
    session: AsyncSession,
    dialect: str,
    cfg: GrowthConfig,
    member: MemberRow | MemberState,
    now: datetime,
    *,
    growth_total: int | None = None,
) -> str:
    """Upgrades are immediate: as soon as the window's growth reaches a higher threshold.

    `growth_total` (the member's all-time growth value, when the caller has it) bounds the window's
    growth from above (daily growth rows are never negative), so when even the total earns no higher
    level the window sum is not read at all: the common case costs no query. Returns the member's
    effective level afterwards.
    """
    current = cfg.level_index(member.level)
    if growth_total is not None and levels.level_for(cfg.levels, growth_total) <= current:
        return effective_level(cfg, member, now)
    growth = await window_growth(session, cfg, member.customer, now)
    earned = levels.level_for(cfg.levels, growth)
    if earned > current:
        new, old = cfg.levels.tiers[earned].id, member.level
        await members.set_level(session, member.customer, new)
        if await emit(
            session,
            dialect,
            type="level_changed",
            customer=member.customer,
            at=now,
            data={"from": old, "to": new, "why": "upgrade", "window_growth": str(growth)},
            dedupe_key=f"level:{member.customer}:{now.isoformat()}:{new}",
        ):
            level_changed(member.customer, old, new, "upgrade")
        member.level = new
        if isinstance(member, MemberRow):
            member.grace_until = None
    return effective_level(cfg, member, now)


async def member_progress(session: AsyncSession, cfg: GrowthConfig, member: MemberRow, now: datetime) -> Progress:
    return progress(cfg, member, await window_growth(session, cfg, member.customer, now), now)


async def set_override(
    session: AsyncSession, deps: Deps, customer: str, level: str, until: datetime, reason: str, operator: str
) -> Progress:
    """SetLevelOverride: an operator's level floor until a date (the member row is locked first)."""
    member = await members.get_member(session, customer, lock=True)
    await members.set_override(session, member, level, until, reason, operator)
    return await member_progress(session, deps.cfg, member, deps.now)


async def review_member(session: AsyncSession, deps: Deps, customer: str, review_at: datetime) -> bool:
    """Applies one review (or the end of a grace period) to one member; True when anything changed.

    The member row is locked and the due check repeated under the lock, so two passes running at once
    review a member once.
    """
    cfg, now, tz = deps.cfg, deps.now, deps.tz
    member = await members.lock_for_review(session, customer)
    if not review_due(member.grace_until, member.reviewed_at, review_at, now):
        return False
    if member.enrolled_at >= review_at and member.grace_until is None:
        # Joined after this review: nothing to review yet.
        await members.mark_reviewed(session, customer, review_at)
        return False
    grace_ended = member.grace_until is not None and member.grace_until <= now
    first, last = calendar.review_window(cfg.levels, review_at, now, tz, grace_ended=grace_ended)
    growth = await growth_since(session, customer, first, last)
    old = member.level
    outcome = levels.review(
        cfg.levels, cfg.level_index(old), levels.level_for(cfg.levels, growth), member.grace_until, now
    )
    new_level = cfg.levels.tiers[outcome.level].id
    await members.apply_review(session, customer, new_level, outcome.grace_until, review_at)
    if outcome.changed and await emit(
        session,
        deps.dialect,
        type="level_changed",
        customer=customer,
        at=now,
        data={"from": old, "to": new_level, "why": "review", "window_growth": str(growth)},
        dedupe_key=f"level:{customer}:{now.isoformat()}:{new_level}",
    ):
        level_changed(customer, old, new_level, "review")
    if outcome.grace_started:
        assert outcome.grace_until is not None
        await emit(
            session,
            deps.dialect,
            type="level_grace_started",
            customer=customer,
            at=now,
            data={"level": old, "grace_until": outcome.grace_until.isoformat(), "window_growth": str(growth)},
            dedupe_key=f"grace:{customer}:{review_at.isoformat()}",
        )
    return outcome.changed or outcome.grace_started
