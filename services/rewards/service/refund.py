"""RefundOrder: the order paid with a coupon was refunded. The coupon can be used again while it is
valid, the payment leaves the uplift measurement, the budget gets the face value back and the policy
forgets the conversion. Refunding twice restores nothing the second time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.clock import Clock
from services.common.errors import NotFound, shorten
from services.rewards.runtime import ConfigView, PolicyRuntime
from services.rewards.service import budget, learning
from services.rewards.service.unit import Learned, WriteCalls
from services.rewards.service.wire import coupon_pb, money
from services.rewards.store import assignments, coupons, redemptions
from skylane.rewards.v1 import rewards_pb2


class RefundOrder:
    def __init__(self, calls: WriteCalls, runtime: PolicyRuntime, clock: Clock) -> None:
        self.calls, self.runtime, self.clock = calls, runtime, clock

    async def __call__(
        self, request: rewards_pb2.RefundOrderRequest, view: ConfigView
    ) -> rewards_pb2.RefundOrderResponse:
        now = self.clock.now()

        async def step(conn: AsyncConnection, learned: Learned) -> rewards_pb2.RefundOrderResponse:
            return await self._refund(conn, view, request.order_id, now, learned)

        return await self.calls.run("RewardsService.RefundOrder", request, rewards_pb2.RefundOrderResponse, step)

    async def _refund(
        self, conn: AsyncConnection, view: ConfigView, order_id: str, now: datetime, learned: Learned
    ) -> rewards_pb2.RefundOrderResponse:
        r = await redemptions.redemption_row(conn, order_id)
        if r is None:
            raise NotFound("redemption", order_id, f"no coupon was redeemed on order {shorten(order_id)!r}")
        coupon = await coupons.coupon_row(conn, r.coupon_id)
        assert coupon is not None
        if r.refunded or not await redemptions.mark_refunded(conn, r.order_id):
            return rewards_pb2.RefundOrderResponse(coupon=coupon_pb(coupon), restored=money(0))
        still_valid = now < coupon.valid_until
        learning.refunded(learned, self.runtime, view.cfg, coupon, redeemed_at=r.redeemed_at, lapsed=not still_valid)
        new_state = coupons.CLAIMED if still_valid else coupons.EXPIRED
        await coupons.reopen(conn, coupon.id, new_state)
        campaign = view.campaigns.get(coupon.campaign_id)
        scenes = set(campaign.scenes) if campaign else set()
        # The payment is taken back from the campaigns that share a scene with the coupon's campaign.
        measured_in = [c.id for c in view.cfg.campaigns if set(c.scenes) & scenes] or [coupon.campaign_id]
        await assignments.add_payment(conn, measured_in, coupon.customer_ref, -r.amount_fen, now, redemption=-1)
        await budget.unspend(conn, coupon.campaign_id, coupon.discount_fen, coupon.claim_day, still_valid=still_valid)
        return rewards_pb2.RefundOrderResponse(
            coupon=coupon_pb(coupon, state=new_state), restored=money(coupon.discount_fen)
        )
