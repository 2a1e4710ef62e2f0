"""Rights catalogue and two-phase redemption: hold points + stock + quota → voucher → confirm.

Stock and quota are taken in the same transaction as the points hold, so concurrent redemptions never
oversell or overdraw; cancelling gives all three back.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import FailedPrecondition, NotFound, PermissionDenied, QuotaExceeded
from services.growth.config import RightDef
from services.growth.domain import calendar, catalogue
from services.growth.domain.catalogue import Holder, RightView
from services.growth.domain.standing import effective_index
from services.growth.models import MemberRow, RedemptionRow
from services.growth.service import outgoing
from services.growth.service.context import Deps
from services.growth.service.holds import Holds
from services.growth.store import rights as store
from services.growth.store.members import get_member, points_available, standing


class Rights:
    def __init__(self, session: AsyncSession, deps: Deps) -> None:
        self.s, self.deps, self.cfg, self.version, self.now = session, deps, deps.cfg, deps.version, deps.now
        self.tz = deps.tz
        self.holds = Holds(session, deps)

    def _right(self, right_id: str) -> RightDef:
        right = self.cfg.right(right_id)
        if right is None:
            raise NotFound("right", right_id, reason="RIGHT_NOT_FOUND")
        return right

    async def redeem(self, customer: str, right_id: str) -> RedemptionRow:
        """RedeemRight: quota, stock and points held together; the voucher is issued on confirm."""
        right = self._right(right_id)
        level_index = effective_index(self.cfg, await standing(self.s, customer), self.now)
        if not catalogue.level_allows(self.cfg, right, level_index):
            raise PermissionDenied(
                f"right {right_id} needs level {right.min_level} or above", reason="LEVEL_NOT_ELIGIBLE"
            )
        level_id = self.cfg.levels.tiers[level_index].id
        quota = catalogue.quota_for(right, level_id)
        period = calendar.period_key(quota.period if quota else "lifetime", self.now, self.tz)
        if quota is not None and not await store.take_quota(
            self.s, self.deps.dialect, customer, right_id, period, quota.count
        ):
            raise QuotaExceeded(
                "QUOTA_EXCEEDED", f"{quota.count} per {quota.period} at level {level_id} already used", subject=right_id
            )
        if not await store.take_stock(self.s, self.deps.dialect, right_id, right.stock):
            raise QuotaExceeded("OUT_OF_STOCK", f"right {right_id} is out of stock", subject=right_id)
        redemption_id = self.deps.new_id()
        hold = await self.holds.hold(
            customer,
            right.points_price,
            f"redemption:{redemption_id}",
            self.cfg.holds.redemption_ttl_seconds,
            self.deps.new_id(),
        )
        row = RedemptionRow(
            id=redemption_id,
            member=customer,
            right_id=right_id,
            voucher_code=self.deps.new_code(),
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
        await store.add_redemption(self.s, row)
        return row

    async def get(self, redemption_id: str) -> RedemptionRow:
        return await store.get_redemption(self.s, redemption_id)

    async def _flip(self, row: RedemptionRow, expected: str, status: str, **values: object) -> None:
        if not await store.flip(self.s, row.id, expected, status, values):
            raise FailedPrecondition("REDEMPTION_CHANGED", "the redemption changed concurrently", subject=row.id)
        row.status = status
        for name, value in values.items():
            setattr(row, name, value)

    async def confirm(self, redemption_id: str) -> RedemptionRow:
        """ConfirmRedemption: the held points are spent and the voucher becomes valid."""
        row = await self.get(redemption_id)
        if row.status != "held":
            raise FailedPrecondition(f"REDEMPTION_{row.status.upper()}", f"redemption is {row.status}", subject=row.id)
        await self.holds.close(row.hold_id, confirm=True)
        right = self.cfg.right(row.right_id)
        validity = right.validity_days if right else 90
        await self._flip(row, "held", "issued", valid_until=self.now + timedelta(days=validity))
        self.deps.telemetry.redeemed(row.right_id)
        await outgoing.right_redeemed(self.s, self.deps, row)
        return row

    async def cancel(self, redemption_id: str, reason: str, *, timed_out: bool = False) -> RedemptionRow:
        """CancelRedemption (or a redemption hold timing out): points back to their original lots,
        stock and quota given back; a used voucher cannot be cancelled."""
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
        await store.give_back(self.s, row)
        return row

    async def mark_used(self, code: str, supplier: str) -> RedemptionRow:
        """MarkVoucherUsed: the right's own supplier redeems a valid, issued voucher once."""
        row = await store.get_redemption(self.s, code, by_code=True)
        right = self.cfg.right(row.right_id)
        if right is not None and right.supplier and supplier != right.supplier:
            # The voucher's right is not named: a caller that is not its supplier learns nothing of its use.
            raise PermissionDenied("this voucher is not redeemable by the supplier given", reason="WRONG_SUPPLIER")
        if row.status == "used":
            raise FailedPrecondition("VOUCHER_ALREADY_USED", f"voucher used by {row.used_by}", subject=code)
        if row.status != "issued":
            raise FailedPrecondition(f"VOUCHER_{row.status.upper()}", f"voucher is {row.status}", subject=code)
        if row.valid_until is not None and row.valid_until <= self.now:
            raise FailedPrecondition("VOUCHER_EXPIRED", "the voucher is past its validity", subject=code)
        await self._flip(row, "issued", "used", used_at=self.now, used_by=supplier)
        return row

    async def catalogue(self, customer: str | None) -> list[RightView]:
        """ListRights: every right with its stock, and for a member whether (and why not) they may redeem it."""
        used = await store.stock_used(self.s)
        member: MemberRow | None = await get_member(self.s, customer) if customer else None
        holder = None
        if member is not None:
            holder = Holder(
                level_index=effective_index(self.cfg, member, self.now),
                points_available=await points_available(self.s, member.customer),
                quota_used=await store.quota_used(self.s, member.customer),
            )
        return [catalogue.view(self.cfg, r, used.get(r.id, 0), holder, self.now, self.tz) for r in self.cfg.rights]
