"""Redeem: an order pays with a coupon. Statements: the coupon (every rule in its WHERE), the order's
redemption, the customer's measurement rows and the budget. Redeeming is idempotent by order id: the
same order with the same coupon gets its first answer. Anything refused is diagnosed by reads on the
refusal path only."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.clock import Clock
from services.common.errors import FailedPrecondition, NotFound, PermissionDenied
from services.rewards.config import Campaign
from services.rewards.runtime import ConfigView, PolicyRuntime
from services.rewards.service import budget, learning, outgoing
from services.rewards.service.unit import Learned, WriteCalls
from services.rewards.service.wire import coupon_pb, money
from services.rewards.store import assignments, coupons, redemptions
from skylane.rewards.v1 import rewards_pb2


def order_taken(order_id: str) -> FailedPrecondition:
    return FailedPrecondition(
        "ORDER_ALREADY_REDEEMED", "this order already used another coupon", subject=f"order/{order_id}"
    )


class Redeem:
    def __init__(self, calls: WriteCalls, runtime: PolicyRuntime, clock: Clock, dialect: str) -> None:
        self.calls, self.runtime, self.clock, self.dialect = calls, runtime, clock, dialect

    async def __call__(self, request: rewards_pb2.RedeemRequest, view: ConfigView) -> rewards_pb2.RedeemResponse:
        now = self.clock.now()

        async def step(conn: AsyncConnection, learned: Learned) -> rewards_pb2.RedeemResponse:
            return await self._redeem(conn, view, request, now, learned)

        return await self.calls.run("RewardsService.Redeem", request, rewards_pb2.RedeemResponse, step)

    async def _redeem(
        self,
        conn: AsyncConnection,
        view: ConfigView,
        request: rewards_pb2.RedeemRequest,
        now: datetime,
        learned: Learned,
    ) -> rewards_pb2.RedeemResponse:
        amount = request.order_amount.fen
        c = await coupons.redeem_coupon(
            conn,
            request.coupon_id,
            request.customer.ref,
            request.order_id,
            amount,
            now,
            view.redeemable_in(request.scene, request.merchant_id),
        )
        if c is None:
            return await _first_answer_or_refusal(conn, view, request, now)
        recorded = await redemptions.record_redemption(
            conn,
            self.dialect,
            {
                "order_id": request.order_id,
                "coupon_id": c.id,
                "campaign_id": c.campaign_id,
                "customer_ref": c.customer_ref,
                "amount_fen": amount,
                "discount_fen": c.discount_fen,
                "redeemed_at": now,
                "refunded": False,
            },
        )
        if not recorded:  # the order was paid with another coupon: this unit rolls back
            raise order_taken(request.order_id)
        await assignments.add_payment(
            conn, view.in_scene.get(request.scene, []), c.customer_ref, amount, now, redemption=1
        )
        await budget.spend(conn, c.campaign_id, c.discount_fen)
        await outgoing.coupon_redeemed(conn, self.dialect, c, request, now)
        learning.conversion(learned, self.runtime, view.cfg, c, at=now)
        return _response(request.order_id, c, c.discount_fen, amount)


def _response(order_id: str, coupon: Any, discount: int, amount: int) -> rewards_pb2.RedeemResponse:
    return rewards_pb2.RedeemResponse(
        order_id=order_id, coupon=coupon_pb(coupon), discount=money(discount), amount_due=money(amount - discount)
    )


async def _first_answer_or_refusal(
    conn: AsyncConnection, view: ConfigView, request: rewards_pb2.RedeemRequest, now: datetime
) -> rewards_pb2.RedeemResponse:
    """The coupon was not redeemable: the same order retried gets its first answer, else the reason."""
    previous = await redemptions.redemption_row(conn, request.order_id)
    if previous is None or previous.refunded:
        await _refuse(conn, view, request, now)
    if previous.coupon_id != request.coupon_id or previous.customer_ref != request.customer.ref:
        raise order_taken(request.order_id)
    first = await coupons.coupon_row(conn, previous.coupon_id)
    return _response(previous.order_id, first, previous.discount_fen, previous.amount_fen)


async def _refuse(
    conn: AsyncConnection, view: ConfigView, request: rewards_pb2.RedeemRequest, now: datetime
) -> NoReturn:
    """Why the coupon cannot pay for this order, in the order the rules are documented."""
    coupon = await coupons.coupon_row(conn, request.coupon_id)
    if coupon is None:
        raise NotFound("coupon", request.coupon_id)
    subject = f"coupon/{coupon.id}"
    if coupon.customer_ref != request.customer.ref:
        raise PermissionDenied("this coupon belongs to another customer", reason="COUPON_NOT_OWNED")
    if coupon.state == coupons.REDEEMED:
        raise FailedPrecondition("COUPON_ALREADY_USED", "the coupon was already used", subject=subject)
    if coupon.state == coupons.EXPIRED or now >= coupon.valid_until:
        raise FailedPrecondition("COUPON_EXPIRED", "the coupon has expired", subject=subject)
    campaign = view.campaigns.get(coupon.campaign_id)
    if campaign is None:
        raise FailedPrecondition(
            "CAMPAIGN_NOT_ACTIVE", "the campaign no longer exists", subject=f"campaign/{coupon.campaign_id}"
        )
    _check_place_and_amount(campaign, coupon, request, subject)
    raise FailedPrecondition("COUPON_ALREADY_USED", "the coupon was already used", subject=subject)


def _check_place_and_amount(campaign: Campaign, coupon: Any, request: rewards_pb2.RedeemRequest, subject: str) -> None:
    if request.scene not in campaign.scenes:
        raise FailedPrecondition("SCENE_NOT_ALLOWED", f"coupon valid in {campaign.scenes}", subject=subject)
    if campaign.merchants and request.merchant_id not in campaign.merchants:
        raise FailedPrecondition("MERCHANT_NOT_ALLOWED", "coupon not valid at this merchant", subject=subject)
    if request.order_amount.fen < coupon.threshold_fen:
        raise FailedPrecondition(
            "BELOW_THRESHOLD",
            f"order amount {request.order_amount.fen} fen is below the threshold {coupon.threshold_fen} fen",
            subject=subject,
        )
