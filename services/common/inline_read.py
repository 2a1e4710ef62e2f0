"""Point reads on SQLite without a session: a snapshot on a stdlib connection, run on the loop thread.

A point read's own work is one or two indexed SELECTs, a few microseconds each; the unit of work around
it — an AsyncSession, its transaction, a pooled connection checked out and reset through greenlets, and
a task to shield its close — cost tens of times more (docs/benchmarks.md). `InlineReader` keeps what a
read unit needs and nothing else: an idle stdlib `sqlite3` connection (WAL, the engine's pragmas), BEGIN,
the statements compiled once per dialect by driver_session's plans (SQLAlchemy's own bind and result
processors), COMMIT, and the connection back to the idle list. Nothing in it awaits, so a read never
yields the loop half-way and never waits for the writer (WAL readers do not).

It takes Core SELECTs (and SELECTs of mapped columns) only. A statement that needs the ORM's execution
(entities) is a programming error here (TypeError naming it): such reads use `Database.read_entities()`.
The connections are `query_only`: a statement that would write fails and changes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Protocol

from sqlalchemy.engine import Dialect, Result, ScalarResult

from services.common.driver_session import DriverResult, plans_for, run_sqlite

MAX_IDLE = 4  # reads never await, so one connection serves them all; a few for units a caller interleaves


class ReadSession(Protocol):
    """What a read unit's code may use (an AsyncSession is one too, on PostgreSQL)."""

    async def execute(self, statement: Any, params: Any = None) -> Result[Any]: ...

    async def scalar(self, statement: Any, params: Any = None) -> Any: ...

    async def scalars(self, statement: Any, params: Any = None) -> ScalarResult[Any]: ...


class InlineReadSession:
    """What a read unit's code sees: `execute`, `scalar` and `scalars` of Core SELECTs, as on a session."""

    __slots__ = ("_connection", "_plans")

    def __init__(self, connection: sqlite3.Connection, plans: Any) -> None:
        self._connection, self._plans = connection, plans

    async def execute(self, statement: Any, params: Any = None) -> Result[Any]:
        if getattr(statement, "is_dml", False) or isinstance(params, list):
            raise TypeError(f"a read unit does not write: {statement}")
        plan, extracted = self._plans.plan(statement, ())
        if plan is None:
            raise TypeError(f"a read unit runs Core SELECTs only; use Database.read_entities() for: {statement}")
        result: DriverResult = run_sqlite(self._connection, plan, params, extracted, False)
        return result

    async def scalar(self, statement: Any, params: Any = None) -> Any:
        return (await self.execute(statement, params)).scalar()

    async def scalars(self, statement: Any, params: Any = None) -> ScalarResult[Any]:
        return (await self.execute(statement, params)).scalars()


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
