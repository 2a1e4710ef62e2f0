"""Exactly-once effects for retried mutating calls.

The key row is inserted first, inside the same transaction as the call's effect. The primary key
makes a concurrent duplicate wait for (PostgreSQL) or queue behind (SQLite) the first; once that
commits, the duplicate finds the stored response. If the first rolls back, its key goes with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from google.protobuf.message import Message
from sqlalchemy import Column, LargeBinary, MetaData, String, Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.clock import Clock
from services.common.db import UTCDateTime, insert_ignoring_conflicts
from services.common.errors import AlreadyExists, Violations
from services.common.validation import check_idempotency_key

R = TypeVar("R", bound=Message)

KEY_FIELD = "idempotency_key"


def idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_keys",
        metadata,
        Column("method", String(128), primary_key=True),
        Column("key", String(128), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("response", LargeBinary, nullable=True),
        Column("created_at", UTCDateTime, nullable=False, index=True),
    )


def fingerprint(request: Message) -> str:
    """Hash of the request without its key, so the same call under the same key matches."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField(KEY_FIELD)
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


def require_key(request: Message) -> str:
    v = Violations()
    check_idempotency_key(v, getattr(request, KEY_FIELD))
    v.raise_if_any()
    return str(getattr(request, KEY_FIELD).value)


class IdempotencyStore:
    def __init__(self, table: Table, dialect: str, clock: Clock) -> None:
        self.table, self.dialect, self.clock = table, dialect, clock

    async def run(
        self,
        session: AsyncSession,
        method: str,
        request: Message,
        response_type: type[R],
        handler: Callable[[], Awaitable[R]],
    ) -> R:
        """Runs handler at most once per (method, key) and returns the first response on retries.

        Must be called inside the write transaction that holds handler's effects.
        """
        key = require_key(request)
        digest = fingerprint(request)
        claim = insert_ignoring_conflicts(self.dialect, self.table).values(
            method=method, key=key, fingerprint=digest, response=None, created_at=self.clock.now()
        )
        inserted = (await session.execute(claim)).rowcount == 1  # type: ignore[attr-defined]
        if not inserted:
            row = (
                await session.execute(
                    select(self.table.c.fingerprint, self.table.c.response).where(
                        self.table.c.method == method, self.table.c.key == key
                    )
                )
            ).one()
            if row.fingerprint != digest:
                raise AlreadyExists(
                    f"idempotency key {key!r} was already used for a different {method} request",
                    reason="IDEMPOTENCY_KEY_REUSED",
                )
            return response_type.FromString(row.response)
        response = await handler()
        await session.execute(
            update(self.table)
            .where(self.table.c.method == method, self.table.c.key == key)
            .values(response=response.SerializeToString(deterministic=True))
        )
        return response

    async def purge(self, session: AsyncSession, older_than: timedelta) -> int:
        cutoff: datetime = self.clock.now() - older_than
        result = await session.execute(delete(self.table).where(self.table.c.created_at < cutoff))
        return int(result.rowcount)  # type: ignore[attr-defined]
