"""Payments the channel reports (RecordPayment), one row per order: the uplift report's outcome."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.db import dialect_insert
from services.rewards.store.tables import moment, param, payments, rowcount


@cache
def _insert(dialect: str) -> Any:
    return (
        dialect_insert(dialect, payments)
        .values(
            order_id=param("p_order"),
            customer_ref=param("p_customer"),
            scene=param("p_scene"),
            amount_fen=param("p_amount"),
            occurred_at=moment("p_now"),
        )
        .on_conflict_do_nothing()
    )


async def record_payment(
    conn: AsyncConnection, dialect: str, order_id: str, customer: str, scene: str, amount: int, now: datetime
) -> bool:
    """Records the order's payment; False when the order was recorded before."""
    params = {"p_order": order_id, "p_customer": customer, "p_scene": scene, "p_amount": amount, "p_now": now}
    return rowcount(await conn.execute(_insert(dialect), params)) == 1
