"""The growth event outbox as ops read it: level changes, expiries and warnings, in sequence order."""

from __future__ import annotations

from collections.abc import Sequence

from services.common.outbox import StoredEvent, events_after
from services.common.point_reads import ReadSession

DEFAULT_LIMIT = 100


async def list_events(session: ReadSession, customer: str | None, after: int, limit: int) -> Sequence[StoredEvent]:
    """ListEvents: events past sequence `after` (of one member, or all); a limit of 0 means the default."""
    return await events_after(session, after, customer, limit or DEFAULT_LIMIT)
