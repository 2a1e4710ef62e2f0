"""Lookups in the shared idempotency record (services/common/idempotency.py writes it)."""

from __future__ import annotations

from sqlalchemy import Table, select

from services.common.point_reads import ReadSession


async def key_recorded(session: ReadSession, table: Table, method: str, key: str) -> bool:
    """Whether a call of `method` under `key` has already been recorded."""
    found = await session.execute(select(table.c.key).where(table.c.method == method, table.c.key == key))
    return found.first() is not None
