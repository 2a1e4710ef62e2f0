"""A campaign's budget counters: reserved and spent against the total, committed per local day.

Each move is one statement; the reservations are conditional upserts, so concurrent claims can never
overdraw either budget. Which move happens when is services/rewards/service/budget.py.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.db import dialect_insert
from services.rewards.domain.budget import Committed
from services.rewards.store.tables import budget_days, budgets, param

_b, _bd = budgets.c, budget_days.c

# reserved, spent and committed today as scalar subqueries by primary key (None before the first claim).
BUDGET_COLUMNS = (
    select(_b.reserved_fen).where(_b.campaign_id == param("p_campaign")).scalar_subquery(),
    select(_b.spent_fen).where(_b.campaign_id == param("p_campaign")).scalar_subquery(),
    select(_bd.committed_fen)
    .where(_bd.campaign_id == param("p_campaign"), _bd.day_key == param("p_day"))
    .scalar_subquery(),
)
_MOVE = (
    update(budgets)
    .where(_b.campaign_id == param("p_campaign"))
    .values(reserved_fen=_b.reserved_fen + param("p_reserved"), spent_fen=_b.spent_fen + param("p_spent"))
)
_RELEASE_DAY = (
    update(budget_days)
    .where(_bd.campaign_id == param("p_campaign"), _bd.day_key == param("p_day"))
    .values(committed_fen=_bd.committed_fen - param("p_face"))
)


def committed_of(reserved: Any, spent: Any, today: Any) -> Committed:
    return Committed(int(reserved or 0), int(spent or 0), int(today or 0))


@cache
def _reservations(dialect: str) -> tuple[Any, Any]:
    """The two reserving upserts of one dialect, built once."""
    total = (
        dialect_insert(dialect, budgets)
        .values(campaign_id=param("p_campaign"), reserved_fen=param("p_face"), spent_fen=0)
        .on_conflict_do_update(
            index_elements=[_b.campaign_id],
            set_={"reserved_fen": _b.reserved_fen + param("p_face")},
            where=_b.reserved_fen + _b.spent_fen + param("p_face") <= param("p_total"),
        )
        .returning(_b.campaign_id)
    )
    day = (
        dialect_insert(dialect, budget_days)
        .values(campaign_id=param("p_campaign"), day_key=param("p_day"), committed_fen=param("p_face"))
        .on_conflict_do_update(
            index_elements=[_bd.campaign_id, _bd.day_key],
            set_={"committed_fen": _bd.committed_fen + param("p_face")},
            where=_bd.committed_fen + param("p_face") <= param("p_daily"),
        )
        .returning(_bd.campaign_id)
    )
    return total, day


async def reserve_total(conn: AsyncConnection, dialect: str, campaign_id: str, face: int, total: int) -> bool:
    """Reserves face value against the campaign total (creating the row); caller checks face <= total."""
    params = {"p_campaign": campaign_id, "p_face": face, "p_total": total}
    return (await conn.execute(_reservations(dialect)[0], params)).first() is not None


async def reserve_day(conn: AsyncConnection, dialect: str, campaign_id: str, day: str, face: int, daily: int) -> bool:
    """Commits face value against one local day's budget (creating the row); caller checks face <= daily."""
    params = {"p_campaign": campaign_id, "p_day": day, "p_face": face, "p_daily": daily}
    return (await conn.execute(_reservations(dialect)[1], params)).first() is not None


async def committed(session: AsyncSession, campaign_id: str, day: str) -> Committed:
    """The campaign's counters on a local day; zeros before its first claim."""
    row = (await session.execute(select(*BUDGET_COLUMNS), {"p_campaign": campaign_id, "p_day": day})).one()
    return committed_of(*row)


async def move(conn: AsyncConnection | AsyncSession, campaign_id: str, reserved_delta: int, spent_delta: int) -> None:
    await conn.execute(_MOVE, {"p_campaign": campaign_id, "p_reserved": reserved_delta, "p_spent": spent_delta})


async def release_day(conn: AsyncConnection | AsyncSession, campaign_id: str, day: str, face: int) -> None:
    await conn.execute(_RELEASE_DAY, {"p_campaign": campaign_id, "p_day": day, "p_face": face})


async def all_counters(session: AsyncSession, day: str) -> dict[str, Committed]:
    """Every campaign's counters as stored (campaigns without a claim yet are absent), with `day`'s
    commitment: one read of each budget table, for the metrics pass."""
    today = {
        str(cid): int(fen)
        for cid, fen in await session.execute(select(_bd.campaign_id, _bd.committed_fen).where(_bd.day_key == day))
    }
    rows = await session.execute(select(_b.campaign_id, _b.reserved_fen, _b.spent_fen))
    found = {str(r.campaign_id): committed_of(r.reserved_fen, r.spent_fen, today.get(r.campaign_id)) for r in rows}
    for cid, fen in today.items():
        found.setdefault(cid, committed_of(0, 0, fen))
    return found
