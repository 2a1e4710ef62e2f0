"""Rights catalogue and two-phase redemption: hold points + stock + quota → voucher → confirm.

Stock and quotas are counters changed by one conditional UPDATE each (`used + 1 <= limit`) in the
same transaction as the points hold, so concurrent redemptions never oversell or overdraw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.common.errors import FailedPrecondition, NotFound, PermissionDenied, QuotaExceeded
from services.growth.config import GrowthConfig, Quota, RightDef
from services.growth.domain import calendar
from services.growth.holds import Holds
from services.growth.models import BalanceRow, MemberRow, QuotaUsageRow, RedemptionRow, RightStockRow
from services.growth.store.members import effective_index, get_member

_stock = cast(Table, RightStockRow.__table__)
_quota = cast(Table, QuotaUsageRow.__table__)


def quota_for(right: RightDef, level_id: str) -> Quota | None:
    return right.level_quotas.get(level_id, right.quota)


@dataclass(frozen=True)
class RightView:
    right: RightDef
    stock_left: int
    eligible: bool
    reason: str
    quota_left: int


async def ensure_stock_rows(session: AsyncSession, dialect: str, cfg: GrowthConfig) -> None:
    """Every configured right gets a stock counter (used starts at 0; config holds the total)."""
    if cfg.rights:
        await session.execute(
            insert_ignoring_conflicts(dialect, _stock), [{"right_id": r.id, "used": 0} for r in cfg.rights]
        )


class Rights:
    def __init__(
        self,
        session: AsyncSession,
        dialect: str,
        cfg: GrowthConfig,
        version: str,
        now: datetime,
        new_id: Callable[[], str],
        new_code: Callable[[], str],
    ) -> None:
        self.s, self.dialect, self.cfg, self.version, self.now = session, dialect, cfg, version, now
        self.tz = ZoneInfo(cfg.timezone)
        self.new_id, self.new_code = new_id, new_code
        self.holds = Holds(session, dialect, cfg, version, now)

    def _right(self, right_id: str) -> RightDef:
        right = self.cfg.right(right_id)
        if right is None:
            raise NotFound("right", right_id, reason="RIGHT_NOT_FOUND")
        return right

    async def redeem(self, customer: str, right_id: str) -> RedemptionRow:
        right = self._right(right_id)
        member = await get_member(self.s, customer)
        level_index = effective_index(self.cfg, member, self.now)
        if level_index < self.cfg.level_index(right.min_level):
            raise PermissionDenied(
                f"right {right_id} needs level {right.min_level} or above", reason="LEVEL_NOT_ELIGIBLE"
            )
        level_id = self.cfg.levels.tiers[level_index].id
        quota = quota_for(right, level_id)
        period = calendar.period_key(quota.period if quota else "lifetime", self.now, self.tz)
        if quota is not None:
            await self.s.execute(
                insert_ignoring_conflicts(self.dialect, _quota).values(
                    member=customer, right_id=right_id, period=period, used=0
                )
            )
            took = await self.s.execute(
                update(_quota)
                .where(
                    _quota.c.member == customer,
                    _quota.c.right_id == right_id,
                    _quota.c.period == period,
                    _quota.c.used + 1 <= quota.count,
                )
                .values(used=_quota.c.used + 1)
            )
            if int(took.rowcount) != 1:  # type: ignore[attr-defined]
                raise QuotaExceeded(
                    "QUOTA_EXCEEDED",
                    f"{quota.count} per {quota.period} at level {level_id} already used",
                    subject=right_id,
                )
        await self.s.execute(insert_ignoring_conflicts(self.dialect, _stock).values(right_id=right_id, used=0))
        took = await self.s.execute(
            update(_stock)
            .where(_stock.c.right_id == right_id, _stock.c.used + 1 <= right.stock)
            .values(used=_stock.c.used + 1)
        )
        if int(took.rowcount) != 1:  # type: ignore[attr-defined]
            raise QuotaExceeded("OUT_OF_STOCK", f"right {right_id} is out of stock", subject=right_id)
        redemption_id = self.new_id()
        hold = await self.holds.hold(
            customer,
            right.points_price,
            f"redemption:{redemption_id}",
            self.cfg.holds.redemption_ttl_seconds,
            self.new_id(),
        )
        row = RedemptionRow(
            id=redemption_id,
            member=customer,
            right_id=right_id,
            voucher_code=self.new_code(),
            points=right.points_price,
            status="held",
            hold_id=hold.id,
            quota_period=period if quota is not None else "",
            valid_until=None,
            created_at=self.now,
            used_at=None,
            used_by=None,
            config_version=self.version,
        )
        self.s.add(row)
        await self.s.flush()
        return row

    async def get(self, redemption_id: str, *, by_code: bool = False) -> RedemptionRow:
        column = RedemptionRow.voucher_code if by_code else RedemptionRow.id
        row = (await self.s.execute(select(RedemptionRow).where(column == redemption_id))).scalar_one_or_none()
        if row is None:
            raise NotFound(
                "voucher" if by_code else "redemption",
                redemption_id,
                reason="VOUCHER_NOT_FOUND" if by_code else "REDEMPTION_NOT_FOUND",
            )
        return row

    async def _flip(self, row: RedemptionRow, expected: str, status: str, **values: object) -> None:
        claimed = await self.s.execute(
            update(RedemptionRow)
            .where(RedemptionRow.id == row.id, RedemptionRow.status == expected)
            .values(status=status, **values)
        )
        if int(claimed.rowcount) != 1:  # type: ignore[attr-defined]
            raise FailedPrecondition("REDEMPTION_CHANGED", "the redemption changed concurrently", subject=row.id)
        row.status = status
        for name, value in values.items():
            setattr(row, name, value)

    async def confirm(self, redemption_id: str) -> RedemptionRow:
        row = await self.get(redemption_id)
        if row.status != "held":
            raise FailedPrecondition(f"REDEMPTION_{row.status.upper()}", f"redemption is {row.status}", subject=row.id)
        await self.holds.close(row.hold_id, confirm=True)
        right = self.cfg.right(row.right_id)
        validity = right.validity_days if right else 90
        await self._flip(row, "held", "issued", valid_until=self.now + timedelta(days=validity))
        return row

    async def _give_back(self, row: RedemptionRow) -> None:
        await self.s.execute(
            update(_stock).where(_stock.c.right_id == row.right_id, _stock.c.used > 0).values(used=_stock.c.used - 1)
        )
        if row.quota_period:
            await self.s.execute(
                update(_quota)
                .where(
                    _quota.c.member == row.member,
                    _quota.c.right_id == row.right_id,
                    _quota.c.period == row.quota_period,
                    _quota.c.used > 0,
                )
                .values(used=_quota.c.used - 1)
            )

    async def cancel(self, redemption_id: str, reason: str, *, timed_out: bool = False) -> RedemptionRow:
        row = await self.get(redemption_id)
        if row.status == "held":
            await self.holds.close(row.hold_id, confirm=False, timed_out=timed_out, reason=reason)
            await self._flip(row, "held", "expired" if timed_out else "cancelled")
        elif row.status == "issued":
            hold = await self.holds.get(row.hold_id)
            assert hold.close_txn_id is not None
            await self.holds.reverse(hold.close_txn_id, reason or "redemption cancelled", "member")
            await self._flip(row, "issued", "cancelled")
        elif row.status == "used":
            raise FailedPrecondition("VOUCHER_ALREADY_USED", "a used voucher cannot be cancelled", subject=row.id)
        else:
            raise FailedPrecondition(f"REDEMPTION_{row.status.upper()}", f"redemption is {row.status}", subject=row.id)
        await self._give_back(row)
        return row

    async def mark_used(self, code: str, supplier: str) -> RedemptionRow:
        row = await self.get(code, by_code=True)
        right = self.cfg.right(row.right_id)
        if right is not None and right.supplier and supplier != right.supplier:
            raise PermissionDenied(f"supplier {supplier!r} does not serve {row.right_id}", reason="WRONG_SUPPLIER")
        if row.status == "used":
            raise FailedPrecondition("VOUCHER_ALREADY_USED", f"voucher used by {row.used_by}", subject=code)
        if row.status != "issued":
            raise FailedPrecondition(f"VOUCHER_{row.status.upper()}", f"voucher is {row.status}", subject=code)
        if row.valid_until is not None and row.valid_until <= self.now:
            raise FailedPrecondition("VOUCHER_EXPIRED", "the voucher is past its validity", subject=code)
        await self._flip(row, "issued", "used", used_at=self.now, used_by=supplier)
        return row

    async def catalogue(self, customer: str | None) -> list[RightView]:
        used = {r.right_id: int(r.used) for r in (await self.s.execute(select(_stock))).all()}
        member: MemberRow | None = await get_member(self.s, customer) if customer else None
        available = 0
        quota_used: dict[tuple[str, str], int] = {}
        if member is not None:
            available = int(
                (
                    await self.s.execute(
                        select(BalanceRow.available).where(
                            BalanceRow.member == member.customer, BalanceRow.asset == "points"
                        )
                    )
                ).scalar_one()
            )
            quota_used = {
                (r.right_id, r.period): int(r.used)
                for r in (await self.s.execute(select(_quota).where(_quota.c.member == member.customer))).all()
            }
        out = []
        for right in self.cfg.rights:
            left = max(0, right.stock - used.get(right.id, 0))
            eligible, reason, quota_left = True, "", -1
            if member is not None:
                level_index = effective_index(self.cfg, member, self.now)
                quota = quota_for(right, self.cfg.levels.tiers[level_index].id)
                if quota is not None:
                    key = calendar.period_key(quota.period, self.now, self.tz)
                    quota_left = max(0, quota.count - quota_used.get((right.id, key), 0))
                if level_index < self.cfg.level_index(right.min_level):
                    eligible, reason = False, "LEVEL_NOT_ELIGIBLE"
                elif quota_left == 0:
                    eligible, reason = False, "QUOTA_EXCEEDED"
                elif left == 0:
                    eligible, reason = False, "OUT_OF_STOCK"
                elif available < right.points_price:
                    eligible, reason = False, "INSUFFICIENT_POINTS"
            out.append(RightView(right, left, eligible, reason, quota_left))
        return out
