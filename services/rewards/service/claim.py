"""Claim: an offer becomes a coupon. The offer, the claim slot, the campaign total and the day's budget
are taken in that order (the lock order), each by one conditional statement; anything refused rolls the
whole call back and is diagnosed by reads on the refusal path only."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.clock import Clock
from services.common.errors import FailedPrecondition, NotFound, PermissionDenied, QuotaExceeded
from services.rewards.config import Arm, Campaign
from services.rewards.domain import contact
from services.rewards.runtime import ConfigView, PolicyRuntime, campaign_active
from services.rewards.service import budget, learning, outgoing
from services.rewards.service.unit import Learned, WriteCalls
from services.rewards.service.wire import coupon_pb
from services.rewards.store import assignments, coupons, decisions
from skylane.rewards.v1 import rewards_pb2


def campaign_gone(campaign_id: str) -> FailedPrecondition:
    return FailedPrecondition(
        "CAMPAIGN_NOT_ACTIVE", f"campaign {campaign_id} is not running", subject=f"campaign/{campaign_id}"
    )


class _Values:
    """Attribute access over the column values of the coupon just inserted."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


class Claim:
    def __init__(self, calls: WriteCalls, runtime: PolicyRuntime, clock: Clock, dialect: str) -> None:
        self.calls, self.runtime, self.clock, self.dialect = calls, runtime, clock, dialect

    async def __call__(self, request: rewards_pb2.ClaimRequest, view: ConfigView) -> rewards_pb2.ClaimResponse:
        now = self.clock.now()

        async def step(conn: AsyncConnection, learned: Learned) -> rewards_pb2.ClaimResponse:
            return await self._claim(conn, view, request, now, learned)

        return await self.calls.run("RewardsService.Claim", request, rewards_pb2.ClaimResponse, step)

    async def _claim(
        self,
        conn: AsyncConnection,
        view: ConfigView,
        request: rewards_pb2.ClaimRequest,
        now: datetime,
        learned: Learned,
    ) -> rewards_pb2.ClaimResponse:
        customer = request.customer.ref
        taken = await decisions.claim_offer(conn, request.offer_id, customer, now)
        if taken is None:
            await _refuse(conn, view, request, now)
        campaign_id, arm_id, segment, wave, *terms = taken
        campaign = view.campaigns.get(campaign_id)
        if campaign is None or not campaign_active(campaign, now):
            raise campaign_gone(campaign_id)
        arm = as_offered(campaign, arm_id, terms)
        # Fallback offers (wave > 0) go to customers who already claimed, so they take no claim slot.
        if wave == 0 and not await assignments.take_claim_slot(
            conn, campaign.id, customer, campaign.claims_per_customer
        ):
            raise QuotaExceeded(
                "CLAIM_LIMIT",
                f"at most {campaign.claims_per_customer} claim(s) per customer",
                subject=f"campaign/{campaign.id}",
            )
        day = contact.day_key(now, view.tz)
        await budget.reserve(conn, self.dialect, campaign, arm.discount_fen, day)
        values: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "campaign_id": campaign.id,
            "customer_ref": customer,
            "decision_id": request.offer_id,
            "arm_id": arm.id,
            "segment": segment,
            "threshold_fen": arm.threshold_fen,
            "discount_fen": arm.discount_fen,
            "validity_days": arm.validity_days,
            "state": coupons.CLAIMED,
            "claimed_at": now,
            "claim_day": day,
            "valid_until": now + timedelta(days=arm.validity_days),
            "order_id": None,
            "is_fallback": wave > 0,
            "fallback_sent": 0,
        }
        await coupons.insert_coupon(conn, values)
        await outgoing.coupon_claimed(conn, self.dialect, values, now)
        if wave == 0:  # the policy learns from its own offers only
            learning.claimed(learned, self.runtime, view.cfg, campaign.id, segment, arm.id, now)
        return rewards_pb2.ClaimResponse(coupon=coupon_pb(_Values(values)))


def as_offered(campaign: Campaign, arm_id: str, terms: list[int | None]) -> Arm:
    """The coupon the customer was offered: the arm's terms recorded with the offer, whatever the config
    says of that arm now (an offer recorded without them takes the arm's current terms). An arm no longer
    in the campaign is refused: the policy could not learn from its claim."""
    arm = campaign.arm(arm_id)
    if arm is None:
        raise offer_withdrawn(campaign.id, arm_id)
    threshold, discount, validity = terms
    if threshold is None or discount is None or validity is None:
        return arm
    if (threshold, discount, validity) == (arm.threshold_fen, arm.discount_fen, arm.validity_days):
        return arm
    return arm.model_copy(update={"threshold_fen": threshold, "discount_fen": discount, "validity_days": validity})


def offer_withdrawn(campaign_id: str, arm_id: str) -> FailedPrecondition:
    return FailedPrecondition(
        "OFFER_WITHDRAWN",
        f"campaign {campaign_id} no longer offers coupon {arm_id}",
        subject=f"campaign/{campaign_id}/arm/{arm_id}",
    )


async def _refuse(
    conn: AsyncConnection, view: ConfigView, request: rewards_pb2.ClaimRequest, now: datetime
) -> NoReturn:
    """The offer could not be claimed: says why, in the order the rules are documented."""
    d = await decisions.decision_for_claim(conn, request.offer_id)
    if d is None or d.outcome != "OFFERED":
        raise NotFound("offer", request.offer_id)
    if d.customer_ref != request.customer.ref:
        raise PermissionDenied("the offer was made to another customer", reason="OFFER_NOT_OWNED")
    campaign = view.campaigns.get(d.campaign_id)
    if campaign is None or not campaign_active(campaign, now):
        raise campaign_gone(d.campaign_id)
    if campaign.arm(d.arm_id) is None:
        raise offer_withdrawn(campaign.id, d.arm_id)
    if d.claim_by is not None and now >= d.claim_by:
        raise FailedPrecondition("OFFER_EXPIRED", "the offer can no longer be claimed", subject=f"offer/{d.id}")
    raise FailedPrecondition(
        "OFFER_ALREADY_CLAIMED", "this offer was already claimed", subject=f"offer/{request.offer_id}"
    )
