"""Reversals: a spend comes back to the lots it drew; a spent earn is clawed back or refused per policy."""

from __future__ import annotations

import grpc
import pytest

from tests.growth.helpers import Client, assert_consistent, config
from tests.helpers import error_reason


async def test_reversing_a_spend_restores_exactly_the_lots_it_drew(growth: Client) -> None:
    ref = await growth.enroll()
    await growth.earn(ref, 100)
    growth.h.clock.advance(days=5)
    await growth.earn(ref, 100)
    spend = await growth.spend(ref, 150)
    growth.h.clock.advance(days=1)
    await growth.earn(ref, 100)  # lot C: must be untouched by the reversal
    before = {lot.id: lot.remaining for lot in (await growth.statement(ref)).lots}
    assert sorted(before.values()) == [50, 100]

    reversal = await growth.reverse(spend.id)
    assert reversal.reverses == spend.id and reversal.operator == "ops_alice"
    restored = {e.lot_id: e.amount for e in reversal.entries if e.account == "member:available"}
    drawn = {e.lot_id: -e.amount for e in spend.entries if e.account == "member:available"}
    assert restored == drawn
    assert sorted(lot.remaining for lot in (await growth.statement(ref)).lots) == [100, 100, 100]

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.reverse(spend.id)
    assert error_reason(err.value) == "ALREADY_REVERSED"
    await assert_consistent(growth, ref)


async def test_clawback_drives_balance_negative_and_future_earnings_repay(growth: Client) -> None:
    ref = await growth.enroll()
    earned = await growth.earn(ref, 100)
    await growth.spend(ref, 80)
    await growth.reverse(earned)
    assert (await growth.balance(ref)).points_available == -80
    await growth.earn(ref, 50)
    assert (await growth.balance(ref)).points_available == -30
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.spend(ref, 1)
    assert error_reason(err.value) == "INSUFFICIENT_POINTS"
    await growth.earn(ref, 40)
    assert (await growth.balance(ref)).points_available == 10
    await assert_consistent(growth, ref)


async def test_refuse_policy_refuses_reversal_of_spent_points(growth: Client) -> None:
    growth.h.write_config(config("refuse"))
    growth.h.app.config.reload()
    ref = await growth.enroll()
    earned = await growth.earn(ref, 100)
    await growth.spend(ref, 80)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.reverse(earned)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(err.value) == "POINTS_ALREADY_SPENT"
    assert (await growth.balance(ref)).points_available == 20
    other = await growth.earn(ref, 100)
    await growth.reverse(other)  # covered by the balance: allowed
    assert (await growth.balance(ref)).points_available == 20
    await assert_consistent(growth, ref)
