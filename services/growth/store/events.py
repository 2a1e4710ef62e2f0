"""The growth event outbox: written in the same transaction as what it reports, read by ListEvents."""

from __future__ import annotations

import json
from datetime import datetime

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
