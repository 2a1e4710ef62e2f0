"""The response messages the use cases build (and the idempotency record stores), from config and rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from services.rewards.config import Arm
from services.rewards.domain.profile import Profile
from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2

COUPON_STATE = {"CLAIMED": rewards_pb2.CLAIMED, "REDEEMED": rewards_pb2.REDEEMED, "EXPIRED": rewards_pb2.EXPIRED}


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def money(fen: int) -> types_pb2.Money:
    return types_pb2.Money(fen=fen)


def arm_pb(arm: Arm) -> rewards_pb2.Arm:
    return rewards_pb2.Arm(
        id=arm.id,
        threshold=money(arm.threshold_fen),
        discount=money(arm.discount_fen),
        validity_days=arm.validity_days,
    )


def coupon_pb(c: Any, state: str | None = None) -> rewards_pb2.Coupon:
    """A coupon row (ORM object, Core row or values with the coupon's column names) as the wire message."""
    return rewards_pb2.Coupon(
        coupon_id=c.id,
        campaign_id=c.campaign_id,
        customer=types_pb2.CustomerRef(ref=c.customer_ref),
        arm=rewards_pb2.Arm(
            id=c.arm_id,
            threshold=money(c.threshold_fen),
            discount=money(c.discount_fen),
            validity_days=c.validity_days,
        ),
        state=COUPON_STATE[state or c.state],
        claimed_at=timestamp(c.claimed_at),
        valid_until=timestamp(c.valid_until),
        offer_id=c.decision_id,
    )


def profile_of(p: rewards_pb2.CustomerProfile) -> Profile:
    return Profile(
        asset_tier=p.asset_tier,
        age=p.age,
        payment_interests=frozenset(p.payment_interests),
        channel=p.channel,
        monthly_payment_count=p.monthly_payment_count,
        monthly_payment_fen=p.monthly_payment_amount.fen,
    )
