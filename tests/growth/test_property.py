"""Property test: random earn/spend/hold/confirm/release/reverse/expire sequences against a simple model.

After every step: the sum of all entries per asset is zero, the member's balance equals the sum of its
lots and of its entries, held points equal the held entries, and balances match the model's.
One server for the whole run; every example uses a fresh member.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.growth.helpers import Client, ledger_sums, member_consistency
from tests.support import error_reason

LOT_DAYS = 30
HOLD_SECONDS = 600


@dataclass
class Lot:
    remaining: int
    expires: float  # seconds on the model clock
    expired: int = 0


@dataclass
class Model:
    """What the ledger should hold: lots in creation order (= expiry order here), debt, holds."""

    now: float = 0.0
    lots: list[Lot] = field(default_factory=list)
    debt: int = 0
    held: int = 0
    reversible: list[tuple[str, str, object, int]] = field(default_factory=list)  # (kind, txn, lot|allocs, n)
    holds: list[tuple[str, int, list[tuple[int, int]], float]] = field(default_factory=list)

    @property
    def available(self) -> int:
        return sum(lot.remaining for lot in self.lots) - self.debt

    def credit(self, parts: list[tuple[int | None, int]]) -> int | None:
        pay = min(sum(n for _, n in parts), self.debt)
        self.debt -= pay
        created = None
        for index, n in parts:
            use = max(0, n - pay)
            pay = max(0, pay - n)
            if not use:
                continue
            if index is None:
                self.lots.append(Lot(use, self.now + LOT_DAYS * 86400))
                created = len(self.lots) - 1
            else:
                self.lots[index].remaining += use
        return created

    def draw(self, n: int) -> list[tuple[int, int]]:
        taken = []
        for i, lot in enumerate(self.lots):
            if n == 0:
                break
            take = min(lot.remaining, n)
            if take > 0:
                lot.remaining -= take
                taken.append((i, take))
                n -= take
        assert n == 0
        return taken


ops = st.one_of(
    st.tuples(st.just("earn"), st.integers(1, 120)),
    st.tuples(st.just("spend"), st.integers(1, 80)),
    st.tuples(st.just("hold"), st.integers(1, 80)),
    st.tuples(st.just("confirm"), st.integers(0, 5)),
    st.tuples(st.just("release"), st.integers(0, 5)),
    st.tuples(st.just("reverse"), st.integers(0, 8)),
    st.tuples(st.just("expire"), st.sampled_from([0.01, 5, 20, 31])),  # days to move the clock
)


async def _expect_refusal(call: object, reason: str) -> None:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as err:
        assert error_reason(err) == reason, (error_reason(err), reason)
    else:
        raise AssertionError(f"expected {reason}")


async def run_program(growth: Client, program: list[tuple[str, float]]) -> None:
    ref = await growth.enroll()
    m = Model()
    lot_of_txn: dict[str, int | None] = {}
    for op, arg in program:
        n = int(arg)
        if op == "earn":
            txn = await growth.earn(ref, n)
            lot_of_txn[txn] = m.credit([(None, n)])
            m.reversible.append(("earn", txn, lot_of_txn[txn], n))
        elif op in ("spend", "hold"):
            if m.available < n:
                await _expect_refusal(
                    growth.spend(ref, n) if op == "spend" else growth.hold(ref, n), "INSUFFICIENT_POINTS"
                )
                continue
            allocs = m.draw(n)
            if op == "spend":
                txn = (await growth.spend(ref, n)).id
                m.reversible.append(("spend", txn, allocs, n))
            else:
                hold = await growth.hold(ref, n)
                m.held += n
                m.holds.append((hold.id, n, allocs, m.now + HOLD_SECONDS))
        elif op in ("confirm", "release"):
            if not m.holds:
                continue
            hold_id, amount, allocs, expires = m.holds[n % len(m.holds)]
            call = growth.confirm(hold_id) if op == "confirm" else growth.release(hold_id)
            if m.now >= expires:
                await _expect_refusal(call, "HOLD_EXPIRED")
                continue
            closed = await call
            m.holds.remove((hold_id, amount, allocs, expires))
            m.held -= amount
            if op == "confirm":
                m.reversible.append(("spend", closed.closing_transaction_id, allocs, amount))
            else:
                m.credit([(i, a) for i, a in allocs])
        elif op == "reverse":
            if not m.reversible:
                continue
            kind, txn, detail, amount = m.reversible.pop(n % len(m.reversible))
            await growth.reverse(txn)
            if kind == "spend":
                m.credit(list(detail))  # type: ignore[arg-type]
                continue
            lot_index = detail
            left = amount - (m.lots[lot_index].expired if isinstance(lot_index, int) else 0)
            if isinstance(lot_index, int):
                take = min(m.lots[lot_index].remaining, left)
                m.lots[lot_index].remaining -= take
                left -= take
            others = min(left, sum(lot.remaining for lot in m.lots))
            m.draw(others)
            m.debt += left - others
        else:
            growth.h.clock.advance(timedelta(days=arg))
            m.now += arg * 86400
            await growth.h.app.maintenance.expire_once()
            for lot in m.lots:
                if lot.expires <= m.now and lot.remaining > 0:
                    lot.expired += lot.remaining
                    lot.remaining = 0

        bal = await growth.balance(ref)
        assert (bal.points_available, bal.points_held) == (m.available, m.held), (op, arg)
        assert set((await ledger_sums(growth.h)).values()) <= {0}
        available, lots, entries, held_gap = await member_consistency(growth.h, ref)
        assert available == lots == entries and held_gap == 0


async def test_ledger_stays_balanced_under_random_operations(growth: Client) -> None:
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(st.lists(ops, min_size=1, max_size=14))
    def check(program: list[tuple[str, float]]) -> None:
        asyncio.run_coroutine_threadsafe(run_program(growth, program), loop).result(timeout=120)

    await asyncio.to_thread(check)
