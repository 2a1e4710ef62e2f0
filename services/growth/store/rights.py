"""Rights stock and quota counters and redemption rows.

Stock and quotas are counters changed by one conditional UPDATE each (`used + 1 <= limit`), so
concurrent redemptions never oversell, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_entity, insert_ignoring_conflicts
from services.common.errors import NotFound
from services.growth.config import GrowthConfig
from services.growth.models import QuotaUsageRow, RedemptionRow, RightStockRow

_stock = cast(Table, RightStockRow.__table__)
_quota = cast(Table, QuotaUsageRow.__table__)

# Built once: RedeemRight runs these on every call (the driver keeps their plans by statement object; the
# counter rows' inserts are insert_ignoring_conflicts's own, one object per dialect and table).
_TAKE_STOCK = (
    update(_stock)
    .where(_stock.c.right_id == bindparam("b_right"), _stock.c.used + 1 <= bindparam("b_limit"))
    .values(used=_stock.c.used + 1)
)
_TAKE_QUOTA = (
    update(_quota)
    .where(
        _quota.c.member == bindparam("b_member"),
        _quota.c.right_id == bindparam("b_right"),
        _quota.c.period == bindparam("b_period"),
        _quota.c.used + 1 <= bindparam("b_limit"),
    )
    .values(used=_quota.c.used + 1)
)


async def ensure_stock_rows(session: AsyncSession, dialect: str, cfg: GrowthConfig) -> None:
    """Every configured right gets a stock counter (used starts at 0; config holds the total)."""
    if cfg.rights:
        await session.execute(
            insert_ignoring_conflicts(dialect, _stock), [{"right_id": r.id, "used": 0} for r in cfg.rights]
        )


async def take_quota(
    session: AsyncSession, dialect: str, customer: str, right_id: str, period: str, limit: int
) -> bool:
    """Counts one redemption against the member's quota for the period; False when it is used up."""
    row = {"member": customer, "right_id": right_id, "period": period, "used": 0}
    take = {"b_member": customer, "b_right": right_id, "b_period": period, "b_limit": limit}
    return await _take_one(session, insert_ignoring_conflicts(dialect, _quota), row, _TAKE_QUOTA, take)


async def take_stock(session: AsyncSession, dialect: str, right_id: str, limit: int) -> bool:
    """Takes one unit of a right's stock; False when none is left."""
    row = {"right_id": right_id, "used": 0}
    take = {"b_right": right_id, "b_limit": limit}
    return await _take_one(session, insert_ignoring_conflicts(dialect, _stock), row, _TAKE_STOCK, take)


async def _take_one(session: AsyncSession, create: Any, row: dict[str, Any], take: Any, params: dict[str, Any]) -> bool:
    """One conditional UPDATE of a counter row (`used + 1 <= limit`); only where it changed nothing is the
    row created (ignoring a concurrent creation) and the UPDATE tried again. A counter that exists, the usual
    case, costs one statement; a right added by a config reload, or a member's first use in a period, three."""
    if int((await session.execute(take, params)).rowcount) == 1:  # type: ignore[attr-defined]
        return True
    await session.execute(create, row)
    return int((await session.execute(take, params)).rowcount) == 1  # type: ignore[attr-defined]


async def give_back(session: AsyncSession, row: RedemptionRow) -> None:
    """Returns a cancelled redemption's unit of stock and, when it counted against one, its quota."""
    await session.execute(
        update(_stock).where(_stock.c.right_id == row.right_id, _stock.c.used > 0).values(used=_stock.c.used - 1)
    )
    if row.quota_period:
        await session.execute(
            update(_quota)
            .where(
                _quota.c.member == row.member,
                _quota.c.right_id == row.right_id,
                _quota.c.period == row.quota_period,
                _quota.c.used > 0,
            )
            .values(used=_quota.c.used - 1)
        )


async def add_redemption(session: AsyncSession, row: RedemptionRow) -> None:
    await insert_entity(session, row)


async def get_redemption(session: AsyncSession, ident: str, *, by_code: bool = False) -> RedemptionRow:
    """A redemption by id, or by voucher code."""
    column = RedemptionRow.voucher_code if by_code else RedemptionRow.id
    row = (await session.execute(select(RedemptionRow).where(column == ident))).scalar_one_or_none()
    if row is None:
        raise NotFound(
            "voucher" if by_code else "redemption",
            ident,
            reason="VOUCHER_NOT_FOUND" if by_code else "REDEMPTION_NOT_FOUND",
        )
    return row


async def redemption_of_hold(session: AsyncSession, hold_id: str) -> str | None:
    found = await session.execute(select(RedemptionRow.id).where(RedemptionRow.hold_id == hold_id))
    return found.scalar_one_or_none()


async def flip(
    session: AsyncSession, redemption_id: str, expected: str, status: str, values: dict[str, object]
) -> bool:
    """Moves a redemption from `expected` to `status`; False when it changed concurrently."""
    claimed = await session.execute(
        update(RedemptionRow)
        .where(RedemptionRow.id == redemption_id, RedemptionRow.status == expected)
        .values(status=status, **values)
    )
    return int(claimed.rowcount) == 1  # type: ignore[attr-defined]


async def stock_used(session: AsyncSession) -> dict[str, int]:
    return {r.right_id: int(r.used) for r in (await session.execute(select(_stock))).all()}


async def quota_used(session: AsyncSession, customer: str) -> dict[tuple[str, str], int]:
    found = await session.execute(select(_quota).where(_quota.c.member == customer))
    return {(r.right_id, r.period): int(r.used) for r in found.all()}
