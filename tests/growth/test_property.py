"""Property test: random earn/spend/hold/confirm/release/reverse/expire sequences against a simple model.

After every step: the sum of all entries per asset is zero, the member's balance equals the sum of its
lots and of its entries, held points equal the held entries, and balances match the model's.
One server for the whole run; every example uses a fresh member.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.growth.helpers import Client, ledger_sums, member_consistency
from tests.helpers import error_reason

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


@dataclass
class Run:
    """One example's member, its model and which lot each earn created."""

    growth: Client
    ref: str
    m: Model = field(default_factory=Model)
    lot_of_txn: dict[str, int | None] = field(default_factory=dict)


# Each step performs one operation on the server and the model; it returns whether the balances are
# then checked (a refused or skipped operation, or a reversed spend, is not).
async def _earn(run: Run, op: str, arg: float) -> bool:
    n, m = int(arg), run.m
    txn = await run.growth.earn(run.ref, n)
    run.lot_of_txn[txn] = m.credit([(None, n)])
    m.reversible.append(("earn", txn, run.lot_of_txn[txn], n))
    return True


async def _spend_or_hold(run: Run, op: str, arg: float) -> bool:
    n, m, growth = int(arg), run.m, run.growth
    if m.available < n:
        await _expect_refusal(
            growth.spend(run.ref, n) if op == "spend" else growth.hold(run.ref, n), "INSUFFICIENT_POINTS"
        )
        return False
    allocs = m.draw(n)
    if op == "spend":
        txn = (await growth.spend(run.ref, n)).id
        m.reversible.append(("spend", txn, allocs, n))
    else:
        hold = await growth.hold(run.ref, n)
        m.held += n
        m.holds.append((hold.id, n, allocs, m.now + HOLD_SECONDS))
    return True


async def _confirm_or_release(run: Run, op: str, arg: float) -> bool:
    n, m, growth = int(arg), run.m, run.growth
    if not m.holds:
        return False
    hold_id, amount, allocs, expires = m.holds[n % len(m.holds)]
    call = growth.confirm(hold_id) if op == "confirm" else growth.release(hold_id)
    if m.now >= expires:
        await _expect_refusal(call, "HOLD_EXPIRED")
        return False
    closed = await call
    m.holds.remove((hold_id, amount, allocs, expires))
    m.held -= amount
    if op == "confirm":
        m.reversible.append(("spend", closed.closing_transaction_id, allocs, amount))
    else:
        m.credit([(i, a) for i, a in allocs])
    return True


async def _reverse(run: Run, op: str, arg: float) -> bool:
    n, m = int(arg), run.m
    if not m.reversible:
        return False
    kind, txn, detail, amount = m.reversible.pop(n % len(m.reversible))
    await run.growth.reverse(txn)
    if kind == "spend":
        m.credit(list(detail))  # type: ignore[arg-type]
        return False
    lot_index = detail
    left = amount - (m.lots[lot_index].expired if isinstance(lot_index, int) else 0)
    if isinstance(lot_index, int):
        take = min(m.lots[lot_index].remaining, left)
        m.lots[lot_index].remaining -= take
        left -= take
    others = min(left, sum(lot.remaining for lot in m.lots))
    m.draw(others)
    m.debt += left - others
    return True


async def _expire(run: Run, op: str, arg: float) -> bool:
    m, growth = run.m, run.growth
    growth.h.clock.advance(timedelta(days=arg))
    m.now += arg * 86400
    await growth.h.app.maintenance.expire_once()
    for lot in m.lots:
        if lot.expires <= m.now and lot.remaining > 0:
            lot.expired += lot.remaining
            lot.remaining = 0
    return True


STEPS: dict[str, Callable[[Run, str, float], Awaitable[bool]]] = {
    "earn": _earn,
    "spend": _spend_or_hold,
    "hold": _spend_or_hold,
    "confirm": _confirm_or_release,
    "release": _confirm_or_release,
    "reverse": _reverse,
    "expire": _expire,
}


async def _check(run: Run, op: str, arg: float) -> None:
    growth, m = run.growth, run.m
    bal = await growth.balance(run.ref)
    assert (bal.points_available, bal.points_held) == (m.available, m.held), (op, arg)
    assert set((await ledger_sums(growth.h)).values()) <= {0}
    available, lots, entries, held_gap = await member_consistency(growth.h, run.ref)
    assert available == lots == entries and held_gap == 0


async def run_program(growth: Client, program: list[tuple[str, float]]) -> None:
    run = Run(growth, await growth.enroll())
    for op, arg in program:
        if await STEPS[op](run, op, arg):
            await _check(run, op, arg)


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
