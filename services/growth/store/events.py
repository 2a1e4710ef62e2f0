"""The growth event outbox (services/common/outbox.py): written in the same transaction as what it reports,
served by StreamEvents and read by ListEvents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import outbox
from services.common.outbox import StoredEvent


async def emit(
    session: AsyncSession,
    dialect: str,
    *,
    type: str,
    member: str,
    at: datetime,
    data: Mapping[str, str],
    dedupe_key: str | None = None,
) -> bool:
    """Adds an event (once per dedupe key, when one is given); returns whether it was new."""
    return await outbox.emit(session, dialect, type=type, customer=member, at=at, data=data, dedupe_key=dedupe_key)


async def events_after(session: AsyncSession, after: int, customer: str | None, limit: int) -> Sequence[StoredEvent]:
    """Events past sequence `after` in order, of one member or of all."""
    return await outbox.events_after(session, after, customer, limit)
