"""Races: concurrent redemptions never overdraw a balance nor oversell stock (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import grpc

from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client, ledger_sums, member_consistency
from tests.helpers import error_reason


async def _outcomes(calls: list) -> tuple[int, list[str]]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    ok = sum(1 for r in results if not isinstance(r, BaseException))
    reasons = [error_reason(r) for r in results if isinstance(r, grpc.aio.AioRpcError)]
    unexpected = [r for r in results if isinstance(r, BaseException) and not isinstance(r, grpc.aio.AioRpcError)]
    assert not unexpected, unexpected
    return ok, reasons


async def test_n_concurrent_redemptions_against_a_balance_covering_k_succeed_k_times(growth: Client) -> None:
    ref = await growth.enroll()
    await growth.earn(ref, 35)  # coffee costs 10: covers k = 3
    ok, reasons = await _outcomes([growth.redeem(ref, "coffee") for _ in range(12)])
    assert ok == 3 and reasons == ["INSUFFICIENT_POINTS"] * 9
    bal = await growth.balance(ref)
    assert (bal.points_available, bal.points_held) == (5, 30)

    ok, reasons = await _outcomes([growth.spend(ref, 2) for _ in range(6)])
    assert ok == 2 and reasons == ["INSUFFICIENT_POINTS"] * 4
    available, lots, entries, held_gap = await member_consistency(growth.h, ref)
    assert available == lots == entries == 1 and held_gap == 0
    assert set((await ledger_sums(growth.h)).values()) == {0}


async def test_stock_never_goes_below_zero_under_concurrent_redemptions(growth: Client) -> None:
    members = [await growth.enroll() for _ in range(12)]
    for ref in members:
        await growth.earn(ref, 10)
    ok, reasons = await _outcomes([growth.redeem(ref, "scarce") for ref in members])  # stock 5
    assert ok == 5 and sorted(reasons) == ["OUT_OF_STOCK"] * 7
    scarce = next(
        r for r in (await growth.growth.ListRights(growth_pb2.ListRightsRequest())).rights if r.id == "scarce"
    )
    assert scarce.stock_left == 0
    held = [(await growth.balance(ref)).points_held for ref in members]
    assert sorted(held) == [0] * 7 + [1] * 5


async def test_concurrent_replays_of_one_event_award_once(growth: Client) -> None:
    ref = await growth.enroll()
    requests = []
    for _ in range(8):  # different idempotency keys, same event
        requests.append(growth.activity_request(ref, "earn", event_id="dup-event", points=25))
    results = await asyncio.gather(*(growth.growth.RecordActivity(r) for r in requests))
    assert sum(1 for r in results if not r.duplicate) == 1
    assert (await growth.balance(ref)).points_available == 25


async def test_concurrent_reversals_of_one_transaction_post_once_and_refuse_the_rest(growth: Client) -> None:
    ref = await growth.enroll()
    earned = await growth.earn(ref, 40)
    spent = (await growth.spend(ref, 15)).id
    for txn_id in (earned, spent):
        ok, reasons = await _outcomes([growth.reverse(txn_id) for _ in range(6)])  # distinct idempotency keys
        assert ok == 1 and reasons == ["ALREADY_REVERSED"] * 5
    statement = await growth.statement(ref)
    reversals = [t for t in statement.history if t.kind == "reverse"]
    assert sorted(t.reverses for t in reversals) == sorted([earned, spent])
    available, lots, entries, held_gap = await member_consistency(growth.h, ref)
    assert available == lots == entries == 0 and held_gap == 0
    assert set((await ledger_sums(growth.h)).values()) == {0}
