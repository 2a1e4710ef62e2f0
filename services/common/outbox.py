"""The transactional outbox: every service's domain events, written in the transaction of their change.

A use case calls `emit(executor, dialect, ...)` inside its unit of work; the row commits or rolls back with
the change it reports, so an event exists exactly when its change does. The event stream
(services/common/event_stream.py) serves the rows in order from a cursor.

The order a stream serves is the order the rows became visible, so a reader that has passed a position
never finds a row appear behind it:

- SQLite has one writer (BEGIN IMMEDIATE, and an flock across processes), so rows commit in `seq` order
  and `seq` is the position.
- PostgreSQL commits concurrent transactions in any order, so a `seq` taken at insert can become visible
  after a larger one was read. There a row's `position` is assigned after it committed, by a sequencer
  pass the stream runs before each read (one pass at a time, under a transaction-level advisory lock):
  it numbers the committed rows that have none, in `seq` order, after the largest position given. Two
  transactions touching the same customer queue on that customer's rows, and each inserts its event after
  taking them, so one customer's events keep their order either way.

A row is never deleted while it holds the largest seq or position, so numbers are never reused. The
position indexes exist on PostgreSQL only (services/common/event_schema.py), so on SQLite an event costs
one row and two small indexes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.after_commit import after_commit
from services.common.db import Database, UTCDateTime, insert_ignoring_conflicts
from services.common.point_reads import ReadSession

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

TABLE = "events"
# Benchmarks only (bench/events_bench.py): `off` writes no events, to measure what the outbox costs a write.
BENCH_SWITCH = "SKYLANE_BENCH_OUTBOX"
_OFF = os.environ.get(BENCH_SWITCH, "") == "off"
SEQUENCE_BATCH = 10_000  # rows one sequencer pass numbers at most
PURGE_BATCH = 5_000  # rows one purge transaction deletes at most


def events_table(metadata: MetaData) -> Table:
    """The outbox table, the same in every service's database."""
    return Table(
        TABLE,
        metadata,
        Column("seq", BigId, primary_key=True, autoincrement=True),
        # PostgreSQL: the stream position, numbered after commit by the sequencer; SQLite: unused (seq is it).
        Column("position", BigInteger, nullable=True),
        Column("type", String(64), nullable=False),
        Column("customer", String(128), nullable=False),
        Column("occurred_at", UTCDateTime, nullable=False),
        Column("data", Text, nullable=False),  # JSON object of strings
        # Optional: an event that may be emitted twice (a repeated pass) is kept once per key.
        Column("dedupe_key", String(128), nullable=True),
        UniqueConstraint("dedupe_key", name="uq_events_dedupe_key"),
        Index("ix_events_customer_seq", "customer", "seq"),
    )


# Statements are built against a table of the same shape; each service's own table lives in its metadata
# (for its migrations), and the schema search path picks the right database or PostgreSQL schema.
_EVENTS = events_table(MetaData())
_C = _EVENTS.c


@dataclass(frozen=True)
class StoredEvent:
    seq: int
    position: int
    type: str
    customer: str
    occurred_at: datetime
    data: dict[str, str]


@functools.cache
def _insert(dialect: str) -> Any:
    """The event INSERT of one dialect, built once."""
    return insert_ignoring_conflicts(dialect, _EVENTS).values(
        type=bindparam("p_type"),
        customer=bindparam("p_customer"),
        occurred_at=bindparam("p_at", type_=UTCDateTime()),
        data=bindparam("p_data"),
        dedupe_key=bindparam("p_dedupe"),
    )


async def emit(
    executor: AsyncSession | AsyncConnection,
    dialect: str,
    *,
    type: str,
    customer: str,
    at: datetime,
    data: Mapping[str, str],
    dedupe_key: str | None = None,
) -> bool:
    """Adds one event inside the caller's unit of work; returns False when its dedupe key was used before.

    Streams waiting for new events are woken once the unit has committed (never when it rolls back).
    """
    if _OFF:
        return True
    values = {
        "p_type": type,
        "p_customer": customer,
        "p_at": at,
        "p_data": json.dumps(dict(data), sort_keys=True, separators=(",", ":")),
        "p_dedupe": dedupe_key,
    }
    inserted = int((await executor.execute(_insert(dialect), values)).rowcount) == 1  # type: ignore[attr-defined]
    if inserted:
        after_commit(wake_streams)
    return inserted


@dataclass(frozen=True)
class NewEvent:
    type: str
    customer: str
    at: datetime
    data: Mapping[str, str]


async def emit_many(executor: AsyncSession | AsyncConnection, dialect: str, events: Sequence[NewEvent]) -> None:
    """Adds several events in one statement (a batch of decisions), in the order given."""
    if not events or _OFF:
        return
    rows = [
        {
            "p_type": e.type,
            "p_customer": e.customer,
            "p_at": e.at,
            "p_data": json.dumps(dict(e.data), sort_keys=True, separators=(",", ":")),
            "p_dedupe": None,
        }
        for e in events
    ]
    await executor.execute(_insert(dialect), rows)
    after_commit(wake_streams)


async def append(
    executor: AsyncSession | AsyncConnection,
    *,
    type: str,
    customer: str,
    at: datetime,
    data: Mapping[str, str],
) -> int:
    """Adds one event (no dedupe key) and returns its insertion number, of which its event id is made."""
    statement = (
        _EVENTS.insert()
        .values(
            type=type,
            customer=customer,
            occurred_at=at,
            data=json.dumps(dict(data), sort_keys=True, separators=(",", ":")),
            dedupe_key=None,
        )
        .returning(_C.seq)
    )
    seq = int((await executor.execute(statement)).scalar_one())
    after_commit(wake_streams)
    return seq


# --- waiting for commits -------------------------------------------------------------------------------

_waiters: set[asyncio.Future[None]] = set()


def wake_streams() -> None:
    """Wakes every stream of this process waiting for new events (after a commit that emitted some)."""
    waiting = list(_waiters)
    _waiters.clear()
    for waiter in waiting:
        if not waiter.done():
            try:
                waiter.set_result(None)
            except RuntimeError:  # its loop is gone (a finished test); nobody waits on it
                pass


async def wait_for_events(seconds: float) -> None:
    """Returns when an event was committed in this process, or after `seconds` (another process may have
    written: the caller reads again either way)."""
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    _waiters.add(waiter)
    try:
        await asyncio.wait_for(waiter, seconds)
    except TimeoutError:
        pass
    finally:
        _waiters.discard(waiter)


# --- reading ------------------------------------------------------------------------------------------


def _position_column(dialect: str) -> Any:
    return _C.position if dialect == "postgresql" else _C.seq


async def page(db: Database, after: int, limit: int) -> list[StoredEvent]:
    """Up to `limit` events past position `after`, in stream order."""
    if db.dialect == "postgresql":
        await sequence(db)
    position = _position_column(db.dialect)
    query = (
        select(_C.seq, position.label("pos"), _C.type, _C.customer, _C.occurred_at, _C.data)
        .where(position > after)
        .order_by(position)
        .limit(limit)
    )
    async with db.read() as session:
        rows = (await session.execute(query)).all()
    return [StoredEvent(r.seq, r.pos, r.type, r.customer, r.occurred_at, json.loads(r.data)) for r in rows]


async def head(db: Database) -> int:
    """The largest position given (0 for an empty stream): one indexed read, no sequencer pass. A position
    once given never changes and retention never deletes the newest row, so every cursor this database
    issued is at most this; a cursor past it was issued by another database."""
    async with db.read() as session:
        newest = (await session.execute(select(func.max(_position_column(db.dialect))))).scalar()
    return int(newest or 0)


async def events_after(session: ReadSession, after_seq: int, customer: str | None, limit: int) -> Sequence[StoredEvent]:
    """Events past insertion number `after_seq`, of one customer or of all (growth's ListEvents)."""
    query = select(_C.seq, _C.position, _C.type, _C.customer, _C.occurred_at, _C.data).where(_C.seq > after_seq)
    if customer:
        query = query.where(_C.customer == customer)
    rows = (await session.execute(query.order_by(_C.seq).limit(limit))).all()
    return [
        StoredEvent(r.seq, r.position or r.seq, r.type, r.customer, r.occurred_at, json.loads(r.data)) for r in rows
    ]


_SEQUENCE_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.skylane_events_sequencer'))")
_NUMBER = text(
    "UPDATE events AS e SET position = b.base + n.rn "
    "FROM (SELECT seq, row_number() OVER (ORDER BY seq) AS rn FROM events "
    "      WHERE position IS NULL ORDER BY seq LIMIT :batch) AS n, "
    "     (SELECT coalesce(max(position), 0) AS base FROM events) AS b "
    "WHERE e.seq = n.seq"
)


async def sequence(db: Database) -> int:
    """PostgreSQL: numbers the committed events that have no position yet; returns how many. A pass waits
    for the one that holds the sequencer (a short transaction), then numbers what that one left: a read
    that follows sees every event committed before it began, also when another stream was numbering."""
    total = 0
    while True:
        async with db.read() as session:
            pending = (await session.execute(select(_C.seq).where(_C.position.is_(None)).limit(1))).first()
        if pending is None:
            return total
        async with db.transaction() as session:
            await session.execute(_SEQUENCE_LOCK)
            numbered = int((await session.execute(_NUMBER, {"batch": SEQUENCE_BATCH})).rowcount)  # type: ignore[attr-defined]
        total += numbered
        if numbered < SEQUENCE_BATCH:
            return total


async def purge(db: Database, older_than: timedelta, now: datetime) -> int:
    """Deletes events that occurred before `now - older_than`, in batches; the newest row always stays."""
    cutoff = now - older_than
    position = _position_column(db.dialect)
    newest = select(func.max(position)).scalar_subquery()
    victims = (
        select(_C.seq)
        .where(_C.occurred_at < cutoff, position.is_not(None), position < newest)
        .order_by(_C.seq)
        .limit(PURGE_BATCH)
    )
    purged = 0
    while True:
        async with db.transaction() as session:
            deleted = int((await session.execute(delete(_EVENTS).where(_C.seq.in_(victims)))).rowcount)  # type: ignore[attr-defined]
        purged += deleted
        if deleted < PURGE_BATCH:
            return purged
