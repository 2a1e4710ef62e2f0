"""Redemptions: the one coupon an order was paid with, and whether the order was refunded."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import false, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import dialect_insert
from services.rewards.store.tables import moment, param, redemptions, rowcount

_r = redemptions.c

_VALUES = {
    "coupon_id": param("p_coupon_id"),
    "campaign_id": param("p_campaign_id"),
    "customer_ref": param("p_customer_ref"),
    "amount_fen": param("p_amount_fen"),
    "discount_fen": param("p_discount_fen"),
    "redeemed_at": moment("p_redeemed_at"),
    "refunded": False,
}
_REDEMPTION = select(
    _r.order_id, _r.coupon_id, _r.customer_ref, _r.amount_fen, _r.discount_fen, _r.refunded, _r.redeemed_at
).where(_r.order_id == param("p_order"))
_REFUND = update(redemptions).where(_r.order_id == param("p_order"), _r.refunded == false()).values(refunded=True)


@cache
def _record(dialect: str) -> Any:
    return (
        dialect_insert(dialect, redemptions)
        .values(order_id=param("p_order"), **_VALUES)
        .on_conflict_do_update(index_elements=[_r.order_id], set_=_VALUES, where=_r.refunded == true())
        .returning(_r.order_id)
    )


async def record_redemption(conn: AsyncConnection, dialect: str, values: dict[str, Any]) -> bool:
    """Records the order's redemption; False when the order already has one that was not refunded.

    A refunded order may be paid again with a coupon: its old row is overwritten in the same statement.
    """
    params = {"p_order" if k == "order_id" else f"p_{k}": v for k, v in values.items() if k != "refunded"}
    return (await conn.execute(_record(dialect), params)).first() is not None


async def redemption_row(conn: AsyncConnection, order_id: str) -> Any:
    return (await conn.execute(_REDEMPTION, {"p_order": order_id})).first()


async def mark_refunded(conn: AsyncConnection, order_id: str) -> bool:
    """Marks the order's redemption refunded; False when it already was (a concurrent refund won)."""
    return rowcount(await conn.execute(_REFUND, {"p_order": order_id})) == 1
