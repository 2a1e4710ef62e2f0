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
from sqlalchemy import Column, LargeBinary, MetaData, String, Table, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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
    """Hash of the request without its key, so the same call under the same key matches. Fields this
    build does not know are left out too: no handler reads them, and a retry from a newer client (or
    through a proxy that re-encodes) is the same call."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField(KEY_FIELD)
    copy.DiscardUnknownFields()
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


def require_key(request: Message) -> str:
    v = Violations()
    check_idempotency_key(v, getattr(request, KEY_FIELD))
    v.raise_if_any()
    return str(getattr(request, KEY_FIELD).value)


class IdempotencyStore:
    """Statements are built once with bind parameters: on SQLite, building a SQLAlchemy statement
    costs more than running it."""

    def __init__(self, table: Table, dialect: str, clock: Clock) -> None:
        self.table, self.dialect, self.clock = table, dialect, clock
        c = table.c
        same_key = (c.method == bindparam("p_method"), c.key == bindparam("p_key"))
        self._claim = insert_ignoring_conflicts(dialect, table).values(
            method=bindparam("p_method"),
            key=bindparam("p_key"),
            fingerprint=bindparam("p_fingerprint"),
            response=None,
            created_at=bindparam("p_now", type_=UTCDateTime()),
        )
        self._stored = select(c.fingerprint, c.response).where(*same_key)
        self._answer = update(table).where(*same_key).values(response=bindparam("p_response"))

    async def run(
        self,
        executor: AsyncSession | AsyncConnection,
        method: str,
        request: Message,
        response_type: type[R],
        handler: Callable[[], Awaitable[R]],
    ) -> R:
        """Runs handler at most once per (method, key) and returns the first response on retries.

        Must be called inside the write transaction (session or connection) that holds handler's effects.
        """
        key = require_key(request)
        digest = fingerprint(request)
        ident = {"p_method": method, "p_key": key}
        claimed = await executor.execute(self._claim, {**ident, "p_fingerprint": digest, "p_now": self.clock.now()})
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            row = (await executor.execute(self._stored, ident)).one()
            if row.fingerprint != digest:
                raise AlreadyExists(
                    f"idempotency key {key!r} was already used for a different {method} request",
                    reason="IDEMPOTENCY_KEY_REUSED",
                )
            return response_type.FromString(row.response)
        response = await handler()
        await executor.execute(self._answer, {**ident, "p_response": response.SerializeToString(deterministic=True)})
        return response

    async def purge(self, session: AsyncSession, older_than: timedelta) -> int:
        cutoff: datetime = self.clock.now() - older_than
        result = await session.execute(delete(self.table).where(self.table.c.created_at < cutoff))
        return int(result.rowcount)  # type: ignore[attr-defined]
