"""Async database access shared by the services: engine factory and the per-RPC unit of work.

SQLite (the embedded default) runs in WAL mode with one writer connection per process whose
transactions start with BEGIN IMMEDIATE, so a write never fails half-way on a lock upgrade; writers of
different processes queue on an flock first (writer_lock.py). Readers use their own connections and
never block the writer. The writer and point reads (`read`) run their statements on the loop thread,
reports and scans (`report`) on the driver's thread (sqlite_inline.py). PostgreSQL (asyncpg) is used
when a URL says so; there `read` and `report` share the writer's pool.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event, insert
from sqlalchemy import exc as sa_exc
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator

from services.common.after_commit import deferred
from services.common.after_commit import run as run_after_commit
from services.common.driver_session import DriverSession
from services.common.point_reads import InlineReader, PostgresReader, ReadSession
from services.common.sqlite_inline import inline_creator, inline_sqlite
from services.common.writer_lock import WriterLock

PG_CONNECT_TIMEOUT_S = 10


def default_sqlite_url(service: str, var_dir: str | Path = "var") -> str:
    return f"sqlite+aiosqlite:///{Path(var_dir) / f'{service}.db'}"


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without a zone on every engine and hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class Database:
    """Owns the engines of one service database and hands out one session per unit of work."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        sqlite_synchronous: str = "FULL",
        sqlite_inline: bool = True,
        pool_size: int = 10,
    ) -> None:
        parsed = make_url(url)
        self.url, self.schema = url, schema
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if not database or database == ":memory:":
                raise ValueError("Skylane needs a SQLite file, not an in-memory database")
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.writer_lock: WriterLock | None = WriterLock(Path(f"{database}.writer-lock"))
            # Writer and point reads inline on the loop thread, reports on the driver's thread
            # (services/common/sqlite_inline.py says why and what was measured).
            self.inline = sqlite_inline
            creator = inline_creator(database) if sqlite_inline else None
            writer = inline_creator(database, commit_off_loop=True) if sqlite_inline else None
            self.write_engine = self._sqlite_engine(
                url, pool=1, begin="BEGIN IMMEDIATE", synchronous=sqlite_synchronous, creator=writer
            )
            self.read_engine = self._sqlite_engine(
                url, pool=4, begin="BEGIN", synchronous=sqlite_synchronous, creator=creator
            )
            self.report_engine = self._sqlite_engine(
                url, pool=2, begin="BEGIN", synchronous=sqlite_synchronous, creator=None
            )
            # Point reads skip the session altogether (services/common/point_reads.py).
            self.postgres_reader: PostgresReader | None = None
            self.inline_reader: InlineReader | None = (
                InlineReader(database, self.read_engine.dialect, _pragmas(sqlite_synchronous))
                if sqlite_inline
                else None
            )
        elif self.dialect == "postgresql":
            # A server that cannot be reached fails the call within seconds (asyncpg waits 60 by default).
            connect_args: dict[str, Any] = {"timeout": PG_CONNECT_TIMEOUT_S}
            if schema:
                connect_args["server_settings"] = {"search_path": schema}
            # 2 x pool_size connections kept, none made and closed per burst: a connection opened for a
            # burst (an overflow) would be closed on return, and its successor pays the connect, the
            # authentication and every statement's PREPARE again.
            self.write_engine = create_async_engine(
                url, pool_size=2 * pool_size, max_overflow=0, connect_args=connect_args, hide_parameters=True
            )
            _ping_when_idle(self.write_engine)
            self.writer_lock = None
            self.inline = False
            self.inline_reader = None
            self.postgres_reader = PostgresReader(self.write_engine)
            self.read_engine = self.report_engine = self.write_engine
        else:
            raise ValueError(
                f"unsupported database engine {self.dialect!r}; use sqlite+aiosqlite or postgresql+asyncpg"
            )
        # Core statements run on the driver connection (services/common/driver_session.py).
        self._writer = async_sessionmaker(self.write_engine, expire_on_commit=False, class_=DriverSession)
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False, class_=DriverSession)
        self._reporter = async_sessionmaker(self.report_engine, expire_on_commit=False, class_=DriverSession)

    @staticmethod
    def _sqlite_engine(url: str, *, pool: int, begin: str, synchronous: str, creator: Any) -> AsyncEngine:
        # The writer gets a single connection: SQLite allows one writer anyway, and queueing in the pool
        # is cheaper and fairer than spinning on busy_timeout.
        inline: dict[str, Any] = {"async_creator": creator} if creator is not None else {}
        # hide_parameters: a statement's bound values (a customer's data among them) never reach an error's text,
        # and so never a log line.
        engine = create_async_engine(
            url, pool_size=pool, max_overflow=0, pool_timeout=60, hide_parameters=True, **inline
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is DEFERRED).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in _pragmas(synchronous):
                cursor.execute(pragma)
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Straight to sqlite3 when inline: SQLAlchemy's execution of one BEGIN costs more than a point read.
            inline = inline_sqlite(conn.connection.dbapi_connection)
            if inline is not None:
                inline.execute(begin)
            else:
                conn.exec_driver_sql(begin)

        return engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[DriverSession]:
        """A write unit of work: commits when the block succeeds, rolls back when it raises. What the
        block hands to after_commit (services/common/after_commit.py) runs once it has committed."""
        queue = self.writer_lock.held() if self.writer_lock is not None else contextlib.nullcontext()
        with deferred() as committed:
            async with queue, self._writer() as session, session.begin():
                yield session
        run_after_commit(committed)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[ReadSession]:
        """A short read-only unit of work without a session (point_reads.py): key lookups, one page of
        rows, Core SELECTs only. On SQLite it is one snapshot, run on the loop thread, so it must not scan
        or aggregate a large table; on PostgreSQL each statement runs on its own (READ COMMITTED: each
        sees what was committed before it)."""
        if self.inline_reader is not None:
            async with self.inline_reader.unit() as reading:
                yield reading
        elif self.postgres_reader is not None:
            async with self.postgres_reader.unit() as statements:
                yield statements
        else:
            async with self._reader() as session, session.begin():
                yield session

    @asynccontextmanager
    async def read_entities(self) -> AsyncIterator[DriverSession]:
        """A short read-only unit of work whose code loads ORM entities (a session); on SQLite its
        statements run on the loop thread too."""
        async with self._reader() as session, session.begin():
            yield session

    @asynccontextmanager
    async def report(self) -> AsyncIterator[DriverSession]:
        """A read-only unit of work that may scan or aggregate many rows (reports, worker scans). On
        SQLite it runs on the driver's thread, so the loop keeps serving while it does."""
        async with self._reporter() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        if self.inline_reader is not None:
            self.inline_reader.close()
        await self.write_engine.dispose()
        if self.writer_lock is not None:
            self.writer_lock.close()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
            await self.report_engine.dispose()


PING_IDLE_S = 1.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Pings a pooled PostgreSQL connection at checkout when it has been idle for PING_IDLE_S or more.

    A restarted server leaves every pooled connection dead. A connection the server closed is known
    closed to the driver at once and is replaced at checkout without a round trip; one idle for a
    second or more is pinged, which finds a server that went away unseen (a network cut). Either way
    the pool reconnects before a unit of work starts, so the calls after a restart succeed
    (tests/common/test_postgres_restart.py). Statements run past SQLAlchemy's execution
    (driver_session.py), so its own disconnect handling never sees them fail: this is the check. A
    ping on every checkout would be one of a point read's two round trips (docs/benchmarks.md)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and driver.is_closed():  # the server closed it (a crash, a restart)
            raise sa_exc.DisconnectionError("pooled connection was closed by the server")
        if time.monotonic() - record.info.get("idle_since", float("-inf")) < PING_IDLE_S:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:  # the pool drops this connection and checks out a fresh one
            raise sa_exc.DisconnectionError(f"pooled connection failed its ping: {type(error).__name__}") from error


def _pragmas(synchronous: str) -> list[str]:
    """Every SQLite connection's settings: WAL, a busy timeout, foreign keys, the durability asked for."""
    return [
        "PRAGMA journal_mode=WAL",
        "PRAGMA busy_timeout=10000",
        "PRAGMA foreign_keys=ON",
        f"PRAGMA synchronous={synchronous}",
    ]


async def insert_entity(session: AsyncSession, entity: Any) -> None:
    """INSERTs a new mapped object's row as one Core statement (on the driver), not through the ORM's
    flush: the object stays out of the session. Only attributes the object was given are written, so
    column defaults apply to the rest."""
    mapper = sa_inspect(type(entity))
    given = entity.__dict__
    values = {prop.columns[0].key: given[prop.key] for prop in mapper.column_attrs if prop.key in given}
    await session.execute(insert(mapper.local_table), values)


def dialect_insert(dialect: str, table: Any) -> Any:
    """The dialect's own INSERT, with its ON CONFLICT clauses (on_conflict_do_nothing / do_update): both
    engines share that API, so a statement is written once for both."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


@functools.cache
def insert_ignoring_conflicts(dialect: str, table: Any) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING for the dialect in use (rowcount tells whether it inserted).

    One statement object per dialect and table: statements are immutable (`.values()` builds a new one),
    and a hot path that asks for it on every call finds its compiled plan by object (driver_session)."""
    return dialect_insert(dialect, table).on_conflict_do_nothing()
