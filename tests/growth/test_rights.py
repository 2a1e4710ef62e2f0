"""Rights: two-phase redemption, vouchers, quotas, stock, cancellation refunds to the original lots."""

from __future__ import annotations

import grpc
import pytest

from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client, cref, ledger_sums, member_consistency
from tests.helpers import error_reason, key


async def _gold(growth: Client, points: int) -> str:
    ref = await growth.enroll()
    await growth.record(ref, "grow")  # l1
    await growth.earn(ref, points)
    return ref


async def test_redeem_confirm_use_and_use_twice(growth: Client) -> None:
    ref = await _gold(growth, 250)
    redemption = await growth.redeem(ref, "lounge")
    assert redemption.status == "held" and redemption.voucher_code.startswith("SKY-")
    bal = await growth.balance(ref)
    assert (bal.points_available, bal.points_held) == (150, 100)
    issued = await growth.confirm_redemption(redemption.id)
    assert issued.status == "issued" and issued.HasField("valid_until")
    assert (await growth.balance(ref)).points_held == 0

    use = growth_pb2.MarkVoucherUsedRequest(
        idempotency_key=key(), voucher_code=redemption.voucher_code, supplier_id="lounges"
    )
    stranger = growth_pb2.MarkVoucherUsedRequest(
        idempotency_key=key(), voucher_code=redemption.voucher_code, supplier_id="someone-else"
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.supplier.MarkVoucherUsed(stranger)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and error_reason(err.value) == "WRONG_SUPPLIER"
    assert "lounge" not in (err.value.details() or "")  # nothing of what the voucher is for
    assert (await growth.supplier.MarkVoucherUsed(use)).status == "used"
    assert (await growth.supplier.MarkVoucherUsed(use)).status == "used"  # a retry: same answer
    use.idempotency_key.CopyFrom(key())
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.supplier.MarkVoucherUsed(use)
    assert error_reason(err.value) == "VOUCHER_ALREADY_USED"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.cancel_redemption(redemption.id)
    assert error_reason(err.value) == "VOUCHER_ALREADY_USED"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.supplier.MarkVoucherUsed(
            growth_pb2.MarkVoucherUsedRequest(idempotency_key=key(), voucher_code="SKY-NOPE", supplier_id="lounges")
        )
    assert error_reason(err.value) == "VOUCHER_NOT_FOUND"


async def test_cancel_unused_voucher_refunds_original_lots_stock_and_quota(growth: Client) -> None:
    ref = await _gold(growth, 60)
    growth.h.clock.advance(days=3)
    await growth.earn(ref, 60)
    before = {lot.id: lot.remaining for lot in (await growth.statement(ref)).lots}
    stock_before = {r.id: r.stock_left for r in (await growth.growth.ListRights(growth_pb2.ListRightsRequest())).rights}
    redemption = await growth.redeem(ref, "lounge")
    await growth.confirm_redemption(redemption.id)
    during = {lot.id: lot.remaining for lot in (await growth.statement(ref)).lots}
    assert sorted(during.values()) == [20]
    cancelled = await growth.cancel_redemption(redemption.id)
    assert cancelled.status == "cancelled"
    assert {lot.id: lot.remaining for lot in (await growth.statement(ref)).lots} == before
    rights = {
        r.id: r for r in (await growth.growth.ListRights(growth_pb2.ListRightsRequest(customer=cref(ref)))).rights
    }
    assert rights["lounge"].stock_left == stock_before["lounge"]
    assert rights["lounge"].quota_left == 2
    available, lots, entries, held_gap = await member_consistency(growth.h, ref)
    assert available == lots == entries == 120 and held_gap == 0
    assert set((await ledger_sums(growth.h)).values()) == {0}


async def test_refusals_each_with_their_own_reason(growth: Client) -> None:
    poor = await growth.enroll()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.redeem(poor, "lounge")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED and error_reason(err.value) == "LEVEL_NOT_ELIGIBLE"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.redeem(poor, "coffee")
    assert error_reason(err.value) == "INSUFFICIENT_POINTS"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.redeem(poor, "no_such_right")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and error_reason(err.value) == "RIGHT_NOT_FOUND"

    ref = await _gold(growth, 1000)
    for _ in range(2):
        await growth.confirm_redemption((await growth.redeem(ref, "lounge")).id)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.redeem(ref, "lounge")
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and error_reason(err.value) == "QUOTA_EXCEEDED"
    other = await _gold(growth, 1000)
    await growth.redeem(other, "lounge")  # stock 3: the third unit
    last = await _gold(growth, 1000)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.redeem(last, "lounge")
    assert error_reason(err.value) == "OUT_OF_STOCK"
    assert (await growth.balance(last)).points_available == 1000  # nothing changed
    catalogue = {
        r.id: r for r in (await growth.growth.ListRights(growth_pb2.ListRightsRequest(customer=cref(last)))).rights
    }
    assert (catalogue["lounge"].eligible, catalogue["lounge"].ineligible_reason) == (False, "OUT_OF_STOCK")
    assert catalogue["coffee"].eligible


async def test_unconfirmed_redemption_times_out_and_returns_everything(growth: Client) -> None:
    ref = await _gold(growth, 100)
    redemption = await growth.redeem(ref, "lounge")
    growth.h.clock.advance(seconds=601)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.confirm_redemption(redemption.id)
    assert error_reason(err.value) == "HOLD_EXPIRED"
    assert await growth.h.app.maintenance.timeout_holds_once() == 1
    got = await growth.growth.GetRedemption(growth_pb2.GetRedemptionRequest(redemption_id=redemption.id))
    assert got.status == "expired"
    bal = await growth.balance(ref)
    assert (bal.points_available, bal.points_held) == (100, 0)
    lounge = next(
        r for r in (await growth.growth.ListRights(growth_pb2.ListRightsRequest())).rights if r.id == "lounge"
    )
    assert lounge.stock_left == 3
