"""Double-entry posting on one unit of work.

Every public method posts one balanced transaction (entries sum to zero per asset across member and
system accounts), updates the member's balance row and lots in the same database transaction, and
returns the transaction id. Balance changes that must not overdraw are single conditional UPDATEs
(`... WHERE available >= :n`), so concurrent spends can never take more than the balance, on SQLite
and on PostgreSQL alike (PostgreSQL re-checks the WHERE after waiting for the row lock).

Clawback invariant: a negative balance (a debt) only exists when the member has no positive lot,
because a clawback drains every lot before going negative and every credit pays the debt first.
So the debt before a credit is simply max(0, -available).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.common.errors import FailedPrecondition
from services.growth.domain.lots import LotView, allocate
from services.growth.models import (
    AllocationRow,
    BalanceRow,
    EntryRow,
    GrowthDailyRow,
    HoldRow,
    LotRow,
    TransactionRow,
)

POINTS, GROWTH = "points", "growth"
AVAILABLE, HELD, PENDING = "available", "held", "pending"
ISSUANCE, REDEMPTION, EXPIRY = "issuance", "redemption", "expiry"

_lots = cast(Table, LotRow.__table__)
_balances = cast(Table, BalanceRow.__table__)
_entries = cast(Table, EntryRow.__table__)
_allocations = cast(Table, AllocationRow.__table__)
_txns = cast(Table, TransactionRow.__table__)


@dataclass(frozen=True)
class Line:
    """One entry line: member account (member set) or system account (member None)."""

    member: str | None
    account: str
    asset: str
    amount: int
    lot_id: int | None = None


@dataclass(frozen=True, slots=True)
class PostedTransaction:
    """A transaction as this unit wrote it (plain values: an answer needs no ORM instance)."""

    id: int
    kind: str
    member: str
    points: int
    growth: int
    posted_at: datetime
    event_source: str | None
    event_id: str | None
    task_id: str | None
    config_version: str
    operator: str | None
    reason: str | None
    reverses: int | None
    hold_id: str | None


@dataclass(frozen=True, slots=True)
class PostedEntry:
    """One entry line as this unit wrote it."""

    txn_id: int
    member: str | None
    account: str
    asset: str
    amount: int
    lot_id: int | None


@dataclass(frozen=True)
class Provenance:
    config_version: str
    event_source: str | None = None
    event_id: str | None = None
    task_id: str | None = None
    operator: str | None = None
    reason: str | None = None


def _check_balanced(kind: str, lines: list[Line]) -> None:
    for asset in (POINTS, GROWTH):
        if sum(line.amount for line in lines if line.asset == asset) != 0:
            raise RuntimeError(f"unbalanced {kind} transaction for {asset}")


# Statements of the hot path, built once (SQLAlchemy caches their compiled form).
_INSERT_TXN = insert(_txns).returning(_txns.c.id)
_INSERT_LOT = insert(_lots).returning(_lots.c.id)
_INSERT_ENTRY = insert(_entries)
_INSERT_ALLOCATION = insert(_allocations)
# Text, not dialect insert(): SQLAlchemy cannot cache ON CONFLICT DO UPDATE constructs (both engines share it).
_ADD_GROWTH_DAY = text(
    "INSERT INTO growth_daily (member, day, amount) VALUES (:member, :day, :amount) "
    "ON CONFLICT (member, day) DO UPDATE SET amount = growth_daily.amount + excluded.amount"
)
_ADD_BOTH = (
    update(_balances)
    .where(_balances.c.member == bindparam("m"), _balances.c.asset.in_([POINTS, GROWTH]))
    .values(
        available=_balances.c.available
        + case((_balances.c.asset == POINTS, bindparam("points")), else_=bindparam("growth"))
    )
    .returning(_balances.c.asset, _balances.c.available)
)

_TAKE = (
    update(_balances)
    .where(_balances.c.member == bindparam("m"), _balances.c.asset == POINTS, _balances.c.available >= bindparam("n"))
    .values(available=_balances.c.available - bindparam("n"))
)
_TAKE_TO_HELD = _TAKE.values(held=_balances.c.held + bindparam("n"))
_BUMPS: dict[tuple[str, ...], Any] = {}


def _bump_statement(columns: tuple[str, ...]) -> Any:
    """UPDATE balances adding to `columns`, RETURNING available: built once per set of columns, so the
    driver session finds it by object rather than compiling a cache key per call."""
    statement = _BUMPS.get(columns)
    if statement is None:
        statement = _BUMPS[columns] = (
            update(_balances)
            .where(_balances.c.member == bindparam("b_member"), _balances.c.asset == bindparam("b_asset"))
            .values({name: getattr(_balances.c, name) + bindparam(f"b_{name}") for name in columns})
            .returning(_balances.c.available)
        )
    return statement


_LOT_VIEWS = select(_lots.c.id, _lots.c.remaining, _lots.c.expires_at, _lots.c.created_at).where(
    _lots.c.member == bindparam("m"), _lots.c.remaining > 0
)
_ADD_TO_LOTS = (
    update(_lots).where(_lots.c.id == bindparam("b_id")).values(remaining=_lots.c.remaining + bindparam("b_delta"))
)


class Ledger:
    def __init__(self, session: AsyncSession, dialect: str, now: datetime) -> None:
        self.s, self.dialect, self.now = session, dialect, now
        # Members' all-time growth value after this unit's credits (lets level checks skip a query).
        self.growth_totals: dict[str, int] = {}
        # What this unit posted, as written: an answer shows it without reading it back.
        self._posted: dict[int, tuple[dict[str, Any], list[dict[str, Any]]]] = {}

    # ---- member set-up -------------------------------------------------------------------
    async def open_accounts(self, member: str) -> None:
        stmt = insert_ignoring_conflicts(self.dialect, _balances)
        await self.s.execute(
            stmt,
            [{"member": member, "asset": asset, "available": 0, "held": 0, "pending": 0} for asset in (POINTS, GROWTH)],
        )

    # ---- posting ----------------------------------------------------------------------------
    async def _post(
        self,
        kind: str,
        member: str,
        lines: list[Line],
        prov: Provenance,
        *,
        reverses: int | None = None,
        hold_id: str | None = None,
    ) -> int:
        net = {
            asset: sum(
                line.amount for line in lines if line.asset == asset and line.member and line.account == AVAILABLE
            )
            for asset in (POINTS, GROWTH)
        }
        _check_balanced(kind, lines)
        txn_id = await self._insert_txn(
            kind, member, net[POINTS], net[GROWTH], prov, reverses=reverses, hold_id=hold_id
        )
        await self._insert_entries(txn_id, lines)
        return txn_id

    def posted(self, txn_id: int) -> tuple[PostedTransaction, list[PostedEntry]]:
        """A transaction this unit posted and its lines in posting order, as they were written (plain
        values: building ORM instances for an answer cost a spend about a tenth of its CPU)."""
        txn, entries = self._posted[txn_id]
        return PostedTransaction(id=txn_id, **txn), [PostedEntry(**entry) for entry in entries]

    async def _insert_txn(
        self,
        kind: str,
        member: str,
        points: int,
        growth: int,
        prov: Provenance,
        *,
        reverses: int | None = None,
        hold_id: str | None = None,
    ) -> int:
        row = {
            "kind": kind,
            "member": member,
            "points": points,
            "growth": growth,
            "posted_at": self.now,
            "event_source": prov.event_source,
            "event_id": prov.event_id,
            "task_id": prov.task_id,
            "config_version": prov.config_version,
            "operator": prov.operator,
            "reason": prov.reason,
            "reverses": reverses,
            "hold_id": hold_id,
        }
        txn_id = int((await self.s.execute(_INSERT_TXN, row)).scalar_one())
        self._posted[txn_id] = (row, [])
        return txn_id

    async def _insert_entries(self, txn_id: int, lines: list[Line]) -> None:
        """All entry lines of a transaction in one multi-row INSERT."""
        rows = [
            {
                "txn_id": txn_id,
                "member": line.member,
                "account": line.account,
                "asset": line.asset,
                "amount": line.amount,
                "lot_id": line.lot_id,
            }
            for line in lines
            if line.amount != 0
        ]
        if rows:
            await self.s.execute(_INSERT_ENTRY, rows)  # executemany of a cached statement
        self._posted[txn_id][1].extend(rows)

    async def _bump(self, member: str, asset: str, **deltas: int) -> int:
        """Adds deltas to the balance row; returns the new available."""
        params = {"b_member": member, "b_asset": asset, **{f"b_{name}": delta for name, delta in deltas.items()}}
        result = await self.s.execute(_bump_statement(tuple(sorted(deltas))), params)
        return int(result.scalar_one())

    async def lock_balance(self, member: str) -> None:
        """Serialises with spends of this member before reading lots outside a conditional UPDATE.

        SQLite already has one writer (BEGIN IMMEDIATE); PostgreSQL takes the balance row lock.
        """
        if self.dialect == "postgresql":
            await self.s.execute(
                select(_balances.c.available)
                .where(_balances.c.member == member, _balances.c.asset == POINTS)
                .with_for_update()
            )

    async def _take_available(self, member: str, points: int, *, to_held: bool) -> bool:
        """The one conditional UPDATE that guards against overdraw."""
        result = await self.s.execute(_TAKE_TO_HELD if to_held else _TAKE, {"m": member, "n": points})
        return int(result.rowcount) == 1  # type: ignore[attr-defined]

    async def _lot_views(self, member: str) -> list[LotView]:
        rows = await self.s.execute(_LOT_VIEWS, {"m": member})
        return [LotView(r.id, r.remaining, r.expires_at, r.created_at) for r in rows]

    async def _add_to_lots(self, deltas: list[tuple[int, int]]) -> None:
        if not deltas:
            return
        await self.s.execute(_ADD_TO_LOTS, [{"b_id": lot_id, "b_delta": delta} for lot_id, delta in deltas])

    async def _draw(self, member: str, points: int, txn_lines: list[Line]) -> list[tuple[int, int]]:
        """Takes `points` out of the member's lots (soonest expiry first) and records entry lines."""
        taken = allocate(await self._lot_views(member), points)
        await self._add_to_lots([(lot_id, -amount) for lot_id, amount in taken])
        txn_lines.extend(Line(member, AVAILABLE, POINTS, -amount, lot_id) for lot_id, amount in taken)
        return taken

    async def _record_allocations(self, txn_id: int, taken: list[tuple[int, int]]) -> None:
        if taken:
            await self.s.execute(
                _INSERT_ALLOCATION, [{"txn_id": txn_id, "lot_id": lot, "amount": amount} for lot, amount in taken]
            )

    async def _debt_lot(self, member: str) -> int:
        found = (
            await self.s.execute(select(_lots.c.id).where(_lots.c.member == member, _lots.c.kind == "debt"))
        ).scalar_one_or_none()
        if found is not None:
            return int(found)
        return int(
            (
                await self.s.execute(
                    insert(_lots)
                    .values(
                        member=member,
                        kind="debt",
                        original=0,
                        remaining=0,
                        expires_at=None,
                        created_at=self.now,
                        txn_id=0,
                        expired=0,
                    )
                    .returning(_lots.c.id)
                )
            ).scalar_one()
        )

    async def _credit_points(
        self, member: str, parts: list[tuple[int | None, int]], expires_at: datetime | None, lines: list[Line]
    ) -> list[int]:
        """Credits available points into lots (None: a new lot), paying any clawback debt first.

        Returns ids of lots created (whose txn_id the caller fixes once the transaction exists).
        """
        total = sum(amount for _, amount in parts)
        if total <= 0:
            return []
        new_available = await self._bump(member, POINTS, available=total)
        debt_pay = min(total, max(0, -(new_available - total)))
        if debt_pay:
            debt_lot = await self._debt_lot(member)
            await self._add_to_lots([(debt_lot, debt_pay)])
            lines.append(Line(member, AVAILABLE, POINTS, debt_pay, debt_lot))
        skip, created, restores = debt_pay, [], []
        for lot_id, amount in parts:
            used = max(0, amount - skip)
            skip = max(0, skip - amount)
            if used == 0:
                continue
            if lot_id is None:
                lot_id = int(
                    (
                        await self.s.execute(
                            insert(_lots)
                            .values(
                                member=member,
                                kind="earn",
                                original=used,
                                remaining=used,
                                expires_at=expires_at,
                                created_at=self.now,
                                txn_id=0,
                                expired=0,
                            )
                            .returning(_lots.c.id)
                        )
                    ).scalar_one()
                )
                created.append(lot_id)
            else:
                restores.append((lot_id, used))
            lines.append(Line(member, AVAILABLE, POINTS, used, lot_id))
        await self._add_to_lots(restores)
        return created

    async def _stamp_lots(self, lot_ids: list[int], txn_id: int) -> None:
        if lot_ids:
            await self.s.execute(update(_lots).where(_lots.c.id.in_(lot_ids)).values(txn_id=txn_id))

    # ---- operations -------------------------------------------------------------------------
    async def earn(
        self, member: str, points: int, growth: int, expires_at: datetime | None, day: date, prov: Provenance
    ) -> int:
        """Credits an award: new lot (after paying any clawback debt) and growth value.

        Hot path of RecordActivity, so written as few statements as the bookkeeping allows: balances
        (one UPDATE on SQLite), the transaction, its lot (created with its transaction id, no later
        stamp), every entry line in one INSERT, and the day's growth.
        """
        after = await self._add_available(member, {POINTS: points, GROWTH: growth})
        txn_id = await self._insert_txn("earn", member, points, growth, prov)
        lines: list[Line] = []
        if points:
            debt_pay = min(points, max(0, -(after[POINTS] - points)))
            if debt_pay:
                debt_lot = await self._debt_lot(member)
                await self._add_to_lots([(debt_lot, debt_pay)])
                lines.append(Line(member, AVAILABLE, POINTS, debt_pay, debt_lot))
            if points > debt_pay:
                lot_id = await self._new_lot(member, points - debt_pay, expires_at, txn_id)
                lines.append(Line(member, AVAILABLE, POINTS, points - debt_pay, lot_id))
            lines.append(Line(None, ISSUANCE, POINTS, -points))
        if growth:
            await self._add_growth_day(member, day, growth)
            lines += [Line(member, AVAILABLE, GROWTH, growth), Line(None, ISSUANCE, GROWTH, -growth)]
            self.growth_totals[member] = after[GROWTH]
        _check_balanced("earn", lines)
        await self._insert_entries(txn_id, lines)
        return txn_id

    async def _add_available(self, member: str, deltas: dict[str, int]) -> dict[str, int]:
        """Adds to `available` of the given assets; returns the new values.

        On SQLite (one writer) both rows change in one statement. On PostgreSQL each row is updated
        on its own, points before growth: the row-lock order every other path uses, so two calls
        for one member can never deadlock.
        """
        assets = [asset for asset in (POINTS, GROWTH) if deltas.get(asset)]
        if self.dialect == "postgresql" or len(assets) < 2:
            return {asset: await self._bump(member, asset, available=deltas[asset]) for asset in assets}
        rows = await self.s.execute(_ADD_BOTH, {"m": member, "points": deltas[POINTS], "growth": deltas[GROWTH]})
        after = {str(r.asset): int(r.available) for r in rows}
        if len(after) != len(assets):
            raise RuntimeError(f"balance rows missing for {member}")
        return after

    async def _new_lot(self, member: str, points: int, expires_at: datetime | None, txn_id: int) -> int:
        row = {
            "member": member,
            "kind": "earn",
            "original": points,
            "remaining": points,
            "expires_at": expires_at,
            "created_at": self.now,
            "txn_id": txn_id,
            "expired": 0,
        }
        return int((await self.s.execute(_INSERT_LOT, row)).scalar_one())

    async def _add_growth_day(self, member: str, day: date, growth: int) -> None:
        await self.s.execute(_ADD_GROWTH_DAY, {"member": member, "day": day.isoformat(), "amount": growth})

    async def spend(self, member: str, points: int, prov: Provenance) -> int:
        if not await self._take_available(member, points, to_held=False):
            raise FailedPrecondition("INSUFFICIENT_POINTS", f"not enough available points for {points}", subject=member)
        lines: list[Line] = [Line(None, REDEMPTION, POINTS, points)]
        taken = await self._draw(member, points, lines)
        txn_id = await self._post("spend", member, lines, prov)
        await self._record_allocations(txn_id, taken)
        return txn_id

    async def hold_spend(self, member: str, points: int, prov: Provenance, hold_id: str) -> int:
        if not await self._take_available(member, points, to_held=True):
            raise FailedPrecondition("INSUFFICIENT_POINTS", f"not enough available points for {points}", subject=member)
        lines: list[Line] = [Line(member, HELD, POINTS, points)]
        taken = await self._draw(member, points, lines)
        txn_id = await self._post("hold", member, lines, prov, hold_id=hold_id)
        await self._record_allocations(txn_id, taken)
        return txn_id

    async def hold_pending(self, member: str, points: int, growth: int, prov: Provenance, hold_id: str) -> int:
        lines: list[Line] = []
        if points:
            await self._bump(member, POINTS, pending=points)
            lines += [Line(member, PENDING, POINTS, points), Line(None, ISSUANCE, POINTS, -points)]
        if growth:
            await self._bump(member, GROWTH, pending=growth)
            lines += [Line(member, PENDING, GROWTH, growth), Line(None, ISSUANCE, GROWTH, -growth)]
        return await self._post("pending", member, lines, prov, hold_id=hold_id)

    async def close_hold(
        self, hold: HoldRow, confirm: bool, prov: Provenance, expires_at: datetime | None, day: date
    ) -> int:
        """Confirms or releases an open hold (the caller has already claimed its status change)."""
        member, lines = hold.member, []
        created: list[int] = []
        if hold.kind == "spend":
            if confirm:
                await self._bump(member, POINTS, held=-hold.points)
                lines += [Line(member, HELD, POINTS, -hold.points), Line(None, REDEMPTION, POINTS, hold.points)]
            else:
                await self._bump(member, POINTS, held=-hold.points)
                lines.append(Line(member, HELD, POINTS, -hold.points))
                await self._restore(member, hold.open_txn_id, lines)
        else:
            if hold.points:
                await self._bump(member, POINTS, pending=-hold.points)
                lines.append(Line(member, PENDING, POINTS, -hold.points))
                if confirm:
                    created = await self._credit_points(member, [(None, hold.points)], expires_at, lines)
                else:
                    lines.append(Line(None, ISSUANCE, POINTS, hold.points))
            if hold.growth:
                await self._bump(member, GROWTH, pending=-hold.growth)
                lines.append(Line(member, PENDING, GROWTH, -hold.growth))
                if confirm:
                    await self._bump(member, GROWTH, available=hold.growth)
                    await self._add_growth_day(member, day, hold.growth)
                    lines.append(Line(member, AVAILABLE, GROWTH, hold.growth))
                else:
                    lines.append(Line(None, ISSUANCE, GROWTH, hold.growth))
        txn_id = await self._post("confirm" if confirm else "release", member, lines, prov, hold_id=hold.id)
        await self._stamp_lots(created, txn_id)
        return txn_id

    async def _restore(self, member: str, drawing_txn: int, lines: list[Line]) -> None:
        """Puts back exactly the lots a spend or spend-hold drew from."""
        rows = (
            await self.s.execute(
                select(_allocations.c.lot_id, _allocations.c.amount)
                .where(_allocations.c.txn_id == drawing_txn)
                .order_by(_allocations.c.id)
            )
        ).all()
        await self._credit_points(member, [(r.lot_id, r.amount) for r in rows], None, lines)

    async def reverse_spend(self, member: str, points: int, drawing_txn: int, original: int, prov: Provenance) -> int:
        lines: list[Line] = [Line(None, REDEMPTION, POINTS, -points)]
        await self._restore(member, drawing_txn, lines)
        return await self._post("reverse", member, lines, prov, reverses=original)

    async def reverse_earn(self, txn: TransactionRow, policy: Mapping[str, str], day: date, prov: Provenance) -> int:
        """Takes back what an earn credited: its own lot first, then other lots; the rest per policy."""
        member, lines = txn.member, []
        await self.lock_balance(member)
        lot = (await self.s.execute(select(_lots).where(_lots.c.txn_id == txn.id, _lots.c.kind == "earn"))).first()
        # Points that already expired from the earned lot left the member once; don't take them twice.
        points = txn.points - (int(lot.expired) if lot is not None else 0)
        if points > 0:
            if policy[POINTS] == "refuse":
                if not await self._take_available(member, points, to_held=False):
                    raise FailedPrecondition(
                        "POINTS_ALREADY_SPENT",
                        "the points were spent and the negative-balance policy refuses the reversal",
                        subject=str(txn.id),
                    )
            else:
                await self._bump(member, POINTS, available=-points)
            left = points
            if lot is not None and lot.remaining > 0:
                take = min(lot.remaining, left)
                await self._add_to_lots([(lot.id, -take)])
                lines.append(Line(member, AVAILABLE, POINTS, -take, lot.id))
                left -= take
            if left:
                views = await self._lot_views(member)
                available = sum(v.remaining for v in views)
                from_others = min(available, left)
                if from_others:
                    taken = allocate(views, from_others)
                    await self._add_to_lots([(lot_id, -amount) for lot_id, amount in taken])
                    lines.extend(Line(member, AVAILABLE, POINTS, -amount, lot_id) for lot_id, amount in taken)
                    left -= from_others
            if left:  # clawback: the balance goes negative and future credits pay it back
                debt_lot = await self._debt_lot(member)
                await self._add_to_lots([(debt_lot, -left)])
                lines.append(Line(member, AVAILABLE, POINTS, -left, debt_lot))
            lines.append(Line(None, ISSUANCE, POINTS, points))
        if txn.growth > 0:
            await self._bump(member, GROWTH, available=-txn.growth)
            await self._add_growth_day(member, day, -txn.growth)
            lines += [Line(member, AVAILABLE, GROWTH, -txn.growth), Line(None, ISSUANCE, GROWTH, txn.growth)]
        return await self._post("reverse", member, lines, prov, reverses=txn.id)

    async def expire_lot(self, member: str, lot_id: int, prov: Provenance) -> int | None:
        """Writes the expiry of one lot's remaining points (re-read under the balance lock)."""
        await self.lock_balance(member)
        remaining = (await self.s.execute(select(_lots.c.remaining).where(_lots.c.id == lot_id))).scalar_one_or_none()
        if not remaining or remaining <= 0:
            return None
        await self._bump(member, POINTS, available=-remaining)
        await self.s.execute(
            update(_lots)
            .where(_lots.c.id == lot_id)
            .values(remaining=_lots.c.remaining - remaining, expired=_lots.c.expired + remaining)
        )
        lines = [Line(member, AVAILABLE, POINTS, -remaining, lot_id), Line(None, EXPIRY, POINTS, remaining)]
        return await self._post("expire", member, lines, prov)


async def growth_since(session: AsyncSession, member: str, first_day: date, last_day: date | None = None) -> int:
    cond = [GrowthDailyRow.member == member, GrowthDailyRow.day >= first_day.isoformat()]
    if last_day is not None:
        cond.append(GrowthDailyRow.day <= last_day.isoformat())
    total = (await session.execute(select(func.coalesce(func.sum(GrowthDailyRow.amount), 0)).where(*cond))).scalar_one()
    return int(total)
