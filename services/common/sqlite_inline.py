"""aiosqlite's connection with each statement run on the event-loop thread.

Stock aiosqlite hands every cursor operation to a helper thread and back: three or four thread
switches per statement, each waiting for the GIL while the event loop is busy. On a local SQLite
file in WAL mode a statement takes microseconds — far less than the hand-offs around it — so Skylane
runs them inline. Commits still fsync (synchronous=FULL); the write batcher makes that one fsync per
batch. The trade-off: a statement that waits on another *process's* lock blocks the loop for up to
busy_timeout, so several processes on one SQLite file should use the threaded driver or PostgreSQL.
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
    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int = 64) -> None:
        super().__init__(connector, iter_chunk_size)
        self._tx = _InlineQueue()  # type: ignore[assignment]

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)

    async def _connect(self) -> InlineConnection:
        if self._connection is None:
            self._connection = self._connector()
        return self

    def __await__(self) -> Any:
        return self._connect().__await__()

    def stop(self) -> None:  # type: ignore[override]
        self._running = False
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        self.stop()


def inline_creator(database: str) -> Callable[[], Any]:
    """An async_creator for create_async_engine that opens inline connections to database."""

    async def create() -> InlineConnection:
        return await InlineConnection(lambda: sqlite3.connect(database, check_same_thread=False))

    return create
