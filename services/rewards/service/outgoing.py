"""The rewards events other services and outside systems consume (docs/events.md), each written in the unit
of work of its change: coupon_claimed, offer_triggered, coupon_redeemed, coupon_expired, payment_recorded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.outbox import emit
from skylane.rewards.v1 import rewards_pb2


async def coupon_claimed(conn: AsyncConnection, dialect: str, coupon: Mapping[str, Any], now: datetime) -> None:
    await emit(
        conn,
        dialect,
        type="coupon_claimed",
        customer=coupon["customer_ref"],
        at=now,
        data={
            "coupon_id": coupon["id"],
            "campaign_id": coupon["campaign_id"],
            "offer_id": coupon["decision_id"],
            "threshold_fen": str(coupon["threshold_fen"]),
            "discount_fen": str(coupon["discount_fen"]),
            "valid_until": coupon["valid_until"].isoformat(),
            "fallback": "true" if coupon["is_fallback"] else "false",
        },
    )


async def offer_triggered(
    conn: AsyncConnection, dialect: str, decision: Mapping[str, Any], trigger: str, product: str, now: datetime
) -> None:
    """A triggered touch was made: the offer a channel delivers to the customer (docs/journeys.md)."""
    await emit(
        conn,
        dialect,
        type="offer_triggered",
        customer=decision["customer_ref"],
        at=now,
        data={
            "offer_id": decision["id"],
            "campaign_id": decision["campaign_id"],
            "trigger_id": trigger,
            "wave": str(decision["wave"]),
            "arm_id": decision["arm_id"],
            "next_product": product,
            "claim_by": decision["claim_by"].isoformat(),
        },
    )


async def coupon_redeemed(
    conn: AsyncConnection, dialect: str, coupon: Any, request: rewards_pb2.RedeemRequest, now: datetime
) -> None:
    await emit(
        conn,
        dialect,
        type="coupon_redeemed",
        customer=coupon.customer_ref,
        at=now,
        data={
            "coupon_id": coupon.id,
            "campaign_id": coupon.campaign_id,
            "order_id": request.order_id,
            "scene": request.scene,
            "merchant_id": request.merchant_id,
            "amount_fen": str(request.order_amount.fen),
            "discount_fen": str(coupon.discount_fen),
        },
    )


async def coupons_expired(
    session: AsyncSession, dialect: str, expired: Iterable[tuple[str, str, str]], now: datetime
) -> None:
    """One coupon_expired per (coupon id, customer, campaign id)."""
    for coupon_id, customer, campaign_id in expired:
        await emit(
            session,
            dialect,
            type="coupon_expired",
            customer=customer,
            at=now,
            data={"coupon_id": coupon_id, "campaign_id": campaign_id},
        )


async def payment_recorded(
    conn: AsyncConnection, dialect: str, request: rewards_pb2.RecordPaymentRequest, campaigns: list[str], now: datetime
) -> None:
    await emit(
        conn,
        dialect,
        type="payment_recorded",
        customer=request.customer.ref,
        at=now,
        data={
            "order_id": request.order_id,
            "scene": request.scene,
            "merchant_id": request.merchant_id,
            "amount_fen": str(request.amount.fen),
            "campaign_ids": ",".join(campaigns),
        },
    )
