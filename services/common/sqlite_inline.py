"""aiosqlite's connection with each statement run on the event-loop thread.

Stock aiosqlite hands every cursor operation to a helper thread and back: three or four thread
switches per statement, each waiting for the GIL while the event loop is busy. A write unit of work
runs 5–10 short statements and a lookup 1–3, and those hand-offs, not SQLite, would be most of their
cost (docs/benchmarks.md). Database uses it for the writer connection and for
point reads (`Database.read`); reports and worker scans (`Database.report`) keep the threaded driver,
so a long aggregate never stalls the loop.

- The writer never waits on SQLite's lock inside a statement: writers of every process queue on the
  flock of services/common/writer_lock.py before BEGIN IMMEDIATE (a foreign writer that skips it, such
  as a hand-run sqlite3 shell, can make a statement wait up to busy_timeout with the loop blocked).
  WAL readers never wait on the writer.
- A batch written inline never yields to the loop, so requests arriving meanwhile are still inside gRPC
  when it ends: a batcher that cuts the next batch at once commits them one by one (measured: batches
  of one request at 32 callers, in the router's writer and in the shared WriteBatcher alike). Both
  therefore wait briefly for arrivals when busy (services/common/batching.py: ArrivalWindow).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite


class _InlineQueue:
    """Stands in for aiosqlite's queue to its thread (SQLAlchemy's isolation_level setter uses it)."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is not None:
                future.set_exception(exc)
            return
        if future is not None:
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    def __init__(
        self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int = 64, *, commit_off_loop: bool = False
    ) -> None:
        super().__init__(connector, iter_chunk_size)
        self._tx = _InlineQueue()  # type: ignore[assignment]
        self.commit_off_loop = commit_off_loop

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        if self.commit_off_loop and fn == self._connection.commit:
            # The writer's COMMIT waits for the disk (fsync): on a thread, which sqlite3 runs without the
            # GIL, the loop meanwhile takes in the calls of the next batch. Nothing else uses the writer
            # connection until the commit returns: its unit of work still holds it.
            return await asyncio.get_running_loop().run_in_executor(None, fn)
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Any:
        return self._connect().__await__()

    def stop(self) -> None:
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def inline_sqlite(dbapi_connection: Any) -> sqlite3.Connection | None:
    """The stdlib connection under SQLAlchemy's adapted connection when it runs inline, else None."""
    driver = getattr(dbapi_connection, "_connection", None)
    return driver._connection if isinstance(driver, InlineConnection) else None


def inline_creator(database: str, *, commit_off_loop: bool = False) -> Callable[[], Any]:
    """An async_creator for create_async_engine that opens inline connections to database; the writer's
    commit off the loop thread when commit_off_loop."""

    async def create() -> InlineConnection:
        return await InlineConnection(
            lambda: sqlite3.connect(database, check_same_thread=False), commit_off_loop=commit_off_loop
        )

    return create
