"""Spends, two-phase holds and reversals: the point movements callers ask for directly."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import FailedPrecondition, NotFound
from services.growth.domain import calendar
from services.growth.models import EntryRow, HoldRow, TransactionRow
from services.growth.service.context import Deps
from services.growth.service.levels import maybe_upgrade
from services.growth.service.telemetry import ISSUED, REFUNDED, REVERSED, SPENT
from services.growth.store import holds as hold_rows
from services.growth.store import transactions
from services.growth.store.ledger import Ledger, PostedEntry, PostedTransaction, Provenance
from services.growth.store.members import get_member

Posted = tuple[TransactionRow, list[EntryRow]]
Spent = tuple[PostedTransaction, list[PostedEntry]]


class Holds:
    def __init__(self, session: AsyncSession, deps: Deps) -> None:
        self.s, self.deps, self.cfg, self.version, self.now = session, deps, deps.cfg, deps.version, deps.now
        self.tz = deps.tz
        self.ledger = Ledger(session, deps.dialect, deps.now)

    async def _taken(self, customer: str, take: Awaitable[int]) -> int:
        """The transaction of a points take; when the take is refused, a stranger is MEMBER_NOT_FOUND, not
        short of points (the member is looked up on the refusal path only)."""
        try:
            return await take
        except FailedPrecondition:
            await get_member(self.s, customer)
            raise

    async def spend(self, customer: str, points: int, reason: str) -> Spent:
        txn = await self._taken(
            customer, self.ledger.spend(customer, points, Provenance(self.version, reason=reason or None))
        )
        self.deps.telemetry.points(SPENT, points)
        return self.ledger.posted(txn)

    async def hold(self, customer: str, points: int, reason: str, ttl_seconds: int, hold_id: str) -> HoldRow:
        ttl = ttl_seconds or self.cfg.holds.default_ttl_seconds
        prov = Provenance(self.version, reason=reason or None)
        txn = await self._taken(customer, self.ledger.hold_spend(customer, points, prov, hold_id))
        row = HoldRow(
            id=hold_id,
            member=customer,
            kind="spend",
            points=points,
            growth=0,
            status="open",
            expires_at=self.now + timedelta(seconds=ttl),
            on_timeout="release",
            reason=reason or None,
            task_id=None,
            open_txn_id=txn,
            close_txn_id=None,
            created_at=self.now,
        )
        await hold_rows.add_hold(self.s, row)
        return row

    async def get(self, hold_id: str) -> HoldRow:
        return await hold_rows.get_hold(self.s, hold_id)

    async def close(self, hold_id: str, *, confirm: bool, timed_out: bool = False, reason: str = "") -> HoldRow:
        """Confirms or releases an open hold; the status flips by one conditional UPDATE (once only).

        The hold row is locked first (PostgreSQL; SQLite has one writer), so a caller racing another
        close (a timeout pass, a second confirm) sees the committed outcome and gets its reason.
        """
        hold = await hold_rows.get_hold(self.s, hold_id, lock=True)
        if hold.status != "open":
            reason_code = "HOLD_EXPIRED" if hold.status == "expired" else f"HOLD_{hold.status.upper()}"
            raise FailedPrecondition(reason_code, f"hold is {hold.status}, not open", subject=hold_id)
        if not timed_out and hold.expires_at <= self.now:
            raise FailedPrecondition("HOLD_EXPIRED", "the hold has timed out", subject=hold_id)
        # A pending hold that confirms on timeout is "confirmed"; anything else that times out is "expired".
        status = "confirmed" if confirm else ("expired" if timed_out else "released")
        if not await hold_rows.claim(self.s, hold_id, status):
            raise FailedPrecondition("HOLD_NOT_OPEN", "the hold was closed concurrently", subject=hold_id)
        expires = calendar.expiry_for(self.cfg.expiry, self.now, self.tz)
        prov = Provenance(self.version, task_id=hold.task_id, reason=reason or ("timeout" if timed_out else None))
        txn = await self.ledger.close_hold(hold, confirm, prov, expires, calendar.local_day(self.now, self.tz))
        await hold_rows.set_closing_transaction(self.s, hold_id, txn)
        if confirm:  # a spend hold's points are spent; a pending award's are issued
            self.deps.telemetry.points(SPENT if hold.kind == "spend" else ISSUED, hold.points)
        hold.status, hold.close_txn_id = status, txn
        if confirm and hold.growth > 0:
            # Confirmed growth counts from now on, so it may earn a level just as an award does
            # (upgrades are immediate); the same rule decides, not a copy of it. The member row is
            # locked so a level review running at the same time either sees this growth or is
            # followed by this upgrade, never overwrites it.
            member = await get_member(self.s, hold.member, lock=True)
            await maybe_upgrade(self.s, self.deps.dialect, self.cfg, member, self.now)
        return hold

    async def close_own(self, hold_id: str, *, confirm: bool) -> HoldRow:
        """ConfirmHold / ReleaseHold: a caller's own hold, never the hold behind a redemption."""
        redemption = (await self.get(hold_id)).reason or ""
        if redemption.startswith("redemption:"):
            raise FailedPrecondition(
                "HOLD_BELONGS_TO_REDEMPTION",
                "use ConfirmRedemption or CancelRedemption for a redemption's hold",
                subject=hold_id,
            )
        return await self.close(hold_id, confirm=confirm)

    async def reverse(self, txn_id: int, reason: str, operator: str) -> int:
        """Posts the reversal of an earn, a spend or a confirmed hold; returns its transaction id."""
        reversal = await self._reverse(txn_id, reason, operator)
        moved = await transactions.points_moved(self.s, reversal)  # issued points taken back, or spent given back
        self.deps.telemetry.points(REVERSED if moved < 0 else REFUNDED, abs(moved))
        return reversal

    async def _reverse(self, txn_id: int, reason: str, operator: str) -> int:
        # Locking the original (PostgreSQL; SQLite has one writer) queues concurrent reversals of it:
        # the later one then sees the committed reversal and is refused with ALREADY_REVERSED
        # instead of tripping the unique `reverses` constraint.
        txn = await transactions.lock_transaction(self.s, txn_id)
        if txn is None:
            raise NotFound("transaction", str(txn_id), reason="TRANSACTION_NOT_FOUND")
        already = await transactions.reversal_of(self.s, txn_id)
        if already is not None:
            raise FailedPrecondition("ALREADY_REVERSED", f"reversed by transaction {already}", subject=str(txn_id))
        prov = Provenance(self.version, operator=operator, reason=reason, task_id=txn.task_id)
        hold = await hold_rows.find_hold(self.s, txn.hold_id) if txn.hold_id else None
        policy = {"points": self.cfg.assets.points.negative_balance, "growth": self.cfg.assets.growth.negative_balance}
        day = calendar.local_day(txn.posted_at, self.tz)
        if txn.kind == "earn" or (txn.kind == "confirm" and hold is not None and hold.kind == "pending"):
            return await self.ledger.reverse_earn(txn, policy, day, prov)
        if txn.kind == "spend":
            return await self.ledger.reverse_spend(txn.member, -txn.points, txn.id, txn.id, prov)
        if txn.kind == "confirm" and hold is not None and hold.kind == "spend":
            return await self.ledger.reverse_spend(txn.member, hold.points, hold.open_txn_id, txn.id, prov)
        raise FailedPrecondition(
            "NOT_REVERSIBLE",
            f"a {txn.kind} transaction cannot be reversed; release or confirm its hold instead",
            subject=str(txn_id),
        )


async def spend_points(session: AsyncSession, deps: Deps, customer: str, points: int, reason: str) -> Spent:
    """SpendPoints: points out of the soonest-expiring lots, refused past the available balance."""
    return await Holds(session, deps).spend(customer, points, reason)


async def reverse_transaction(session: AsyncSession, deps: Deps, txn_id: int, reason: str, operator: str) -> Posted:
    """ReverseTransaction: an operator's correction of an earn, spend or confirmed hold."""
    reversal = await Holds(session, deps).reverse(txn_id, reason, operator)
    return await transactions.with_entries(session, reversal)
