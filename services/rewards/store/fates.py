"""The fate of each touch a pass tries to make (TOUCHED or DEFERRED with its reason), one row per touch,
so the report counts every touch once however many passes it waited through."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.db import dialect_insert
from services.rewards.store.tables import moment, param, touch_fates

_f = touch_fates.c
TOUCHED, DEFERRED = "TOUCHED", "DEFERRED"


@cache
def _record(dialect: str) -> Any:
    deferred = param("p_deferred")
    return (
        dialect_insert(dialect, touch_fates)
        .values(
            campaign_id=param("p_campaign"),
            touch_key=param("p_key"),
            source=param("p_source"),
            customer_ref=param("p_customer"),
            fate=param("p_fate"),
            reason=param("p_reason"),
            deferrals=deferred,
            updated_at=moment("p_now"),
        )
        .on_conflict_do_update(
            index_elements=[_f.campaign_id, _f.touch_key],
            set_={
                "fate": param("p_fate"),
                "reason": param("p_reason"),
                "deferrals": _f.deferrals + deferred,
                "updated_at": moment("p_now"),
            },
        )
    )


async def record(
    conn: AsyncConnection,
    dialect: str,
    campaign_id: str,
    touch_key: str,
    source: str,
    customer: str,
    reason: str | None,
    now: datetime,
    *,
    fate: str | None = None,
) -> None:
    """Records a touch as TOUCHED (reason None) or DEFERRED for `reason` (counting one more deferral), or as
    the `fate` given (e.g. ROUTED: past its validity, sent to the follow-up list)."""
    await conn.execute(
        _record(dialect),
        {
            "p_campaign": campaign_id,
            "p_key": touch_key,
            "p_source": source,
            "p_customer": customer,
            "p_fate": fate or (DEFERRED if reason else TOUCHED),
            "p_reason": reason or "",
            "p_deferred": 1 if reason and fate is None else 0,
            "p_now": now,
        },
    )


async def counts(session: AsyncSession, campaign_id: str) -> list[Any]:
    """(source, fate, reason, touches, deferrals) of the campaign's recorded touches."""
    rows = await session.execute(
        select(_f.source, _f.fate, _f.reason, func.count(), func.sum(_f.deferrals))
        .where(_f.campaign_id == campaign_id)
        .group_by(_f.source, _f.fate, _f.reason)
    )
    return list(rows.all())
