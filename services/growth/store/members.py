"""Member rows and level standing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import NotFound
from services.growth.config import GrowthConfig
from services.growth.domain import calendar, levels
from services.growth.models import MemberRow
from services.growth.store.events import emit
from services.growth.store.ledger import growth_since


async def get_member(session: AsyncSession, customer: str, *, lock: bool = False) -> MemberRow:
    stmt = select(MemberRow).where(MemberRow.customer == customer)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise not_found("member", customer, "MEMBER_NOT_FOUND", "member not enrolled; call EnrollMember first")
    return row


def not_found(kind: str, name: str, reason: str, message: str | None = None) -> NotFound:
    """NotFound with a specific machine reason (e.g. MEMBER_NOT_FOUND) instead of the generic one."""
    error = NotFound(kind, name, message)
    error.reason = reason
    return error


def effective_index(cfg: GrowthConfig, member: MemberRow, now: datetime) -> int:
    override = cfg.level_index(member.override_level) if member.override_level else None
    return levels.effective(cfg.level_index(member.level), override, member.override_until, now)


def effective_level(cfg: GrowthConfig, member: MemberRow, now: datetime) -> str:
    return cfg.levels.tiers[effective_index(cfg, member, now)].id


async def window_growth(session: AsyncSession, cfg: GrowthConfig, member: str, now: datetime) -> int:
    tz = ZoneInfo(cfg.timezone)
    return await growth_since(session, member, calendar.window_start(cfg.levels, now, tz))


async def maybe_upgrade(
    session: AsyncSession, dialect: str, cfg: GrowthConfig, member: MemberRow, now: datetime
) -> str:
    """Upgrades are immediate: as soon as the window's growth reaches a higher threshold."""
    growth = await window_growth(session, cfg, member.customer, now)
    earned = levels.level_for(cfg.levels, growth)
    current = cfg.level_index(member.level)
    if earned > current:
        new, old = cfg.levels.tiers[earned].id, member.level
        await session.execute(
            update(MemberRow).where(MemberRow.customer == member.customer).values(level=new, grace_until=None)
        )
        await emit(
            session,
            dialect,
            type="level_changed",
            member=member.customer,
            at=now,
            data={"from": old, "to": new, "why": "upgrade", "window_growth": str(growth)},
            dedupe_key=f"level:{member.customer}:{now.isoformat()}:{new}",
        )
        member.level = new
        member.grace_until = None
    return effective_level(cfg, member, now)


@dataclass(frozen=True)
class Progress:
    level: str
    earned_level: str
    window_growth: int
    next_level: str
    growth_to_next: int
    growth_to_keep: int
    next_review_at: datetime
    grace_until: datetime | None
    override_level: str
    override_until: datetime | None
    override_reason: str


async def progress(session: AsyncSession, cfg: GrowthConfig, member: MemberRow, now: datetime) -> Progress:
    tz = ZoneInfo(cfg.timezone)
    growth = await window_growth(session, cfg, member.customer, now)
    tiers = cfg.levels.tiers
    earned = cfg.level_index(member.level)
    eff = effective_index(cfg, member, now)
    nxt = tiers[eff + 1] if eff + 1 < len(tiers) else None
    active_override = member.override_until is not None and member.override_until > now
    return Progress(
        level=tiers[eff].id,
        earned_level=tiers[earned].id,
        window_growth=growth,
        next_level=nxt.id if nxt else "",
        growth_to_next=max(0, nxt.threshold - growth) if nxt else 0,
        growth_to_keep=max(0, tiers[eff].threshold - growth),
        next_review_at=calendar.next_review(cfg.levels, now, tz),
        grace_until=member.grace_until,
        override_level=(member.override_level or "") if active_override else "",
        override_until=member.override_until if active_override else None,
        override_reason=(member.override_reason or "") if active_override else "",
    )
