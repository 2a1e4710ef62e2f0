"""Point reads without a session: SQLite on the loop thread, PostgreSQL one statement per round trip.

A point read's own work is one or two indexed SELECTs; the unit of work around it — an AsyncSession, its
transaction, a pooled connection checked out and reset through greenlets, and a task to shield its
close — cost many times more on SQLite (docs/benchmarks.md), and on PostgreSQL BEGIN and COMMIT are
two more round trips than the SELECT itself. A read unit here keeps only what it needs:

- `InlineReader` (SQLite): an idle stdlib `sqlite3` connection (WAL, the engine's pragmas, `query_only`),
  BEGIN, the statements, COMMIT, the connection back to the idle list. Nothing in it awaits, so a read
  never yields the loop half-way; one snapshot for the unit, and WAL readers never wait for the writer.
- `PostgresReader`: a connection from the engine's pool (checked at checkout, as every one), each statement
  a prepared statement of the asyncpg adapter's cache run on its own, outside a transaction: READ
  COMMITTED, as the session's transaction was (each statement sees what was committed before it).

Both run statements compiled once per dialect by driver_session's plans, with SQLAlchemy's own bind and
result processors. They take Core SELECTs and SELECTs of mapped columns; a statement that needs the
ORM's execution (entities) is a programming error here (TypeError naming it): such reads use
`Database.read_entities()`. A statement that writes (DML, or text that is not a SELECT) is refused
before it runs, and SQLite's read connections are `query_only` besides.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Protocol

from sqlalchemy.engine import Dialect, Result, ScalarResult
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import TextClause

from services.common.driver_session import DriverResult, plans_for, run_asyncpg, run_sqlite

MAX_IDLE = 4  # reads never await, so one connection serves them all; a few for units a caller interleaves


class ReadSession(Protocol):
    """What a read unit's code may use (an AsyncSession is one too)."""

    async def execute(self, statement: Any, params: Any = None) -> Result[Any]: ...

    async def scalar(self, statement: Any, params: Any = None) -> Any: ...

    async def scalars(self, statement: Any, params: Any = None) -> ScalarResult[Any]: ...


def _text_not_select(statement: Any) -> bool:
    """A text() statement that is not a plain SELECT (it could write)."""
    return isinstance(statement, TextClause) and not statement.text.lstrip().upper().startswith("SELECT")


class _ReadUnit:
    """What a read unit's code sees: `execute`, `scalar` and `scalars` of Core SELECTs, as on a session."""

    __slots__ = ("_plans",)

    def __init__(self, plans: Any) -> None:
        self._plans = plans

    async def execute(self, statement: Any, params: Any = None) -> Result[Any]:
        if getattr(statement, "is_dml", False) or isinstance(params, list) or _text_not_select(statement):
            raise TypeError(f"a read unit does not write: {statement}")
        plan, extracted = self._plans.plan(statement, ())
        if plan is None:
            raise TypeError(f"a read unit runs Core SELECTs only; use Database.read_entities() for: {statement}")
        return await self._run(plan, params, extracted)

    async def _run(self, plan: Any, params: Any, extracted: Any) -> DriverResult:
        raise NotImplementedError

    async def scalar(self, statement: Any, params: Any = None) -> Any:
        return (await self.execute(statement, params)).scalar()

    async def scalars(self, statement: Any, params: Any = None) -> ScalarResult[Any]:
        return (await self.execute(statement, params)).scalars()


class InlineReadSession(_ReadUnit):
    __slots__ = ("_connection",)

    def __init__(self, connection: sqlite3.Connection, plans: Any) -> None:
        super().__init__(plans)
        self._connection = connection

    async def _run(self, plan: Any, params: Any, extracted: Any) -> DriverResult:
        return run_sqlite(self._connection, plan, params, extracted, False)


class PostgresReadSession(_ReadUnit):
    __slots__ = ("_adapted",)

    def __init__(self, adapted: Any, plans: Any) -> None:
        super().__init__(plans)
        self._adapted = adapted

    async def _run(self, plan: Any, params: Any, extracted: Any) -> DriverResult:
        return await run_asyncpg(self._adapted, plan, params, extracted, False, begin=False)


class PostgresReader:
    """Read units on the engine's pooled asyncpg connections, outside a transaction (module docstring)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.plans = plans_for(engine.dialect)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[PostgresReadSession]:
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            yield PostgresReadSession(raw.dbapi_connection, self.plans)


class InlineReader:
    """Read units on idle stdlib connections to one SQLite file (see the module docstring)."""

    def __init__(self, database: str, dialect: Dialect, pragmas: list[str]) -> None:
        self.database, self.pragmas = database, pragmas
        self.plans = plans_for(dialect)
        self.idle: list[sqlite3.Connection] = []

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[InlineReadSession]:
        with self._snapshot() as connection:
            yield InlineReadSession(connection, self.plans)

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        connection = self.idle.pop() if self.idle else self._open()
        try:
            connection.execute("BEGIN")
            yield connection
            connection.execute("COMMIT")
        except BaseException:
            self._discard(connection)
            raise
        if len(self.idle) < MAX_IDLE:
            self.idle.append(connection)
        else:
            connection.close()

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.database, isolation_level=None, check_same_thread=False)
        for pragma in self.pragmas:
            connection.execute(pragma)
        connection.execute("PRAGMA query_only=ON")  # a read unit that tries to write fails, and writes nothing
        return connection

    @staticmethod
    def _discard(connection: sqlite3.Connection) -> None:
        """A unit that raised: its snapshot is ended and its connection not reused (it may be broken)."""
        try:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        connection.close()

    def close(self) -> None:
        while self.idle:
            self.idle.pop().close()
