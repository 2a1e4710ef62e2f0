"""The growth event outbox: written in the same transaction as what it reports, read by ListEvents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.growth.models import EventRow


async def emit(
    session: AsyncSession,
    dialect: str,
    *,
    type: str,
    member: str,
    at: datetime,
    data: dict[str, str],
    dedupe_key: str,
) -> bool:
    """Adds an event once per dedupe key; returns whether it was new."""
    stmt = insert_ignoring_conflicts(dialect, EventRow.__table__).values(
        type=type, member=member, emitted_at=at, data=json.dumps(data, sort_keys=True), dedupe_key=dedupe_key
    )
    return int((await session.execute(stmt)).rowcount) == 1  # type: ignore[attr-defined]


async def events_after(session: AsyncSession, after: int, customer: str | None, limit: int) -> Sequence[EventRow]:
    """Events past sequence `after` in order, of one member or of all."""
    query = select(EventRow).where(EventRow.seq > after)
    if customer:
        query = query.where(EventRow.member == customer)
    return (await session.execute(query.order_by(EventRow.seq).limit(limit))).scalars().all()
