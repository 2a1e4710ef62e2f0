"""Member rows and level standing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Table, and_, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import NotFound
from services.growth.config import GrowthConfig
from services.growth.domain import calendar, levels
from services.growth.models import BalanceRow, MemberRow
from services.growth.store.events import emit
from services.growth.store.ledger import growth_since


async def get_member(session: AsyncSession, customer: str, *, lock: bool = False) -> MemberRow:
    stmt = select(MemberRow).where(MemberRow.customer == customer)
    if lock:
        # populate_existing: a copy loaded earlier in this unit must not hide the locked row's values.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise member_not_found(customer)
    return row


def member_not_found(customer: str) -> NotFound:
    return NotFound("member", customer, "member not enrolled; call EnrollMember first", reason="MEMBER_NOT_FOUND")


class Standing(Protocol):
    """What decides a member's effective level: a MemberRow, a Core row or a MemberState."""

    @property
    def level(self) -> str: ...
    @property
    def override_level(self) -> str | None: ...
    @property
    def override_until(self) -> datetime | None: ...


@dataclass
class MemberState:
    """The member fields the activity hot path needs, read with one SELECT (no ORM object)."""

    customer: str
    level: str
    referrer: str | None
    override_level: str | None
    override_until: datetime | None
    growth_total: int  # all-time growth value (the balance row), an upper bound of any window's growth


def _balance_query() -> Select[Any]:
    """GetBalance: the member and both balance rows in one SELECT on primary keys (no ORM objects)."""
    members, balances = cast(Table, MemberRow.__table__), cast(Table, BalanceRow.__table__)
    points, growth = balances.alias("p"), balances.alias("g")
    return (
        select(
            members.c.level,
            members.c.override_level,
            members.c.override_until,
            func.coalesce(points.c.available, 0).label("points_available"),
            func.coalesce(points.c.held, 0).label("points_held"),
            func.coalesce(points.c.pending, 0).label("points_pending"),
            func.coalesce(growth.c.available, 0).label("growth_total"),
        )
        .select_from(
            members.outerjoin(
                points, and_(points.c.member == members.c.customer, points.c.asset == "points")
            ).outerjoin(growth, and_(growth.c.member == members.c.customer, growth.c.asset == "growth"))
        )
        .where(members.c.customer == bindparam("customer"))
    )


BALANCE_QUERY = _balance_query()


def effective_index(cfg: GrowthConfig, member: Standing, now: datetime) -> int:
    override = cfg.level_index(member.override_level) if member.override_level else None
    return levels.effective(cfg.level_index(member.level), override, member.override_until, now)


def effective_level(cfg: GrowthConfig, member: Standing, now: datetime) -> str:
    return cfg.levels.tiers[effective_index(cfg, member, now)].id


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
    level the window sum is not read at all: the common case costs no query.
    """
    current = cfg.level_index(member.level)
    if growth_total is not None and levels.level_for(cfg.levels, growth_total) <= current:
        return effective_level(cfg, member, now)
    growth = await window_growth(session, cfg, member.customer, now)
    earned = levels.level_for(cfg.levels, growth)
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
        if isinstance(member, MemberRow):
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
