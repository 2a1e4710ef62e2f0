"""Redeem and RefundOrder on real servers: redemption is idempotent by order id, refusals change
nothing, and a refund makes the coupon usable again and gives its budget back."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, error_reason, field_violations, key
from tests.rewards.helpers import claim, offer, redeem, report, rewards_service, stub


async def test_redeem_is_idempotent_by_order_id_and_refund_restores_budget(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        coupon = (await claim(s, 1, (await offer(s, 1)).offer_id)).coupon
        first = await redeem(s, 1, coupon.coupon_id, "order-1")
        assert (first.discount.fen, first.amount_due.fen) == (1000, 11000)
        again = await redeem(s, 1, coupon.coupon_id, "order-1")  # retry under a new idempotency key
        assert again == first
        rep = await report(s)
        assert (rep.spent.fen, rep.reserved.fen) == (1000, 0)
        assert [(r.arm_id, r.offers, r.claims, r.redemptions, r.gmv.fen) for r in rep.funnel] == [
            ("m100-10", 1, 1, 1, 12000)
        ]

        other = (await claim(s, 2, (await offer(s, 2)).offer_id)).coupon
        with pytest.raises(grpc.aio.AioRpcError) as reused:
            await redeem(s, 2, other.coupon_id, "order-1")
        assert error_reason(reused.value) == "ORDER_ALREADY_REDEEMED"

        refund = await s.RefundOrder(rewards_pb2.RefundOrderRequest(idempotency_key=key(), order_id="order-1"))
        assert refund.coupon.state == rewards_pb2.CLAIMED
        assert refund.restored.fen == 1000
        rep = await report(s)
        assert (rep.spent.fen, rep.reserved.fen) == (0, 2000)  # both coupons reserved, nothing spent
        second = await redeem(s, 1, coupon.coupon_id, "order-2")
        assert second.coupon.state == rewards_pb2.REDEEMED
        assert (await report(s)).spent.fen == 1000

        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await s.RefundOrder(rewards_pb2.RefundOrderRequest(idempotency_key=key(), order_id="order-nobody"))
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        assert unknown.value.details() == "no coupon was redeemed on order 'order-nobody'"


async def test_redeem_refusals_change_nothing(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path, validity=1) as h:
        s = stub(h)
        coupon = (await claim(s, 1, (await offer(s, 1)).offer_id)).coupon

        async def refused(customer: int, order: str, amount: int, scene: str = "mall") -> grpc.aio.AioRpcError:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await redeem(s, customer, coupon.coupon_id, order, amount, scene)
            return err.value

        bad = await refused(1, "o-1", 0, "cinema")
        assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(field_violations(bad)) == {"order_amount.fen", "scene"}
        assert error_reason(await refused(2, "o-2", 12000)) == "COUPON_NOT_OWNED"
        assert error_reason(await refused(1, "o-3", 9999)) == "BELOW_THRESHOLD"
        assert error_reason(await refused(1, "o-4", 12000, "restaurant")) == "SCENE_NOT_ALLOWED"
        rep = await report(s)
        assert (rep.spent.fen, rep.reserved.fen) == (0, 1000)
        await redeem(s, 1, coupon.coupon_id, "o-5")
        assert error_reason(await refused(1, "o-6", 12000)) == "COUPON_ALREADY_USED"

        late = (await claim(s, 3, (await offer(s, 3)).offer_id)).coupon
        h.clock.advance(days=1, seconds=1)
        with pytest.raises(grpc.aio.AioRpcError) as expired:
            await redeem(s, 3, late.coupon_id, "o-7")
        assert error_reason(expired.value) == "COUPON_EXPIRED"
