"""Group commit for SQLite: many concurrent write units of work share one transaction and one fsync.

SQLite has one writer and, with synchronous=FULL, pays a disk sync per commit; committing requests
one by one caps a service at a few hundred writes a second. The batcher queues each request's unit
of work, runs up to ``max_batch`` of them in one transaction — each inside its own SAVEPOINT, so a
refused request rolls back alone — commits once, and only then answers every caller. Nothing is
acknowledged before it is durable.

On PostgreSQL many connections commit in parallel, so units of work run in their own transaction.
Units of work must only touch the database: no network calls while the batch is open.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.after_commit import deferred
from services.common.call_context import call_log_var, start_outside_calls
from services.common.db import Database

T = TypeVar("T")
Q = TypeVar("Q")
UnitOfWork = Callable[[AsyncSession], Awaitable[T]]
# A queued unit of work, the future its caller awaits, and the caller's call context (its request id).
Queued = tuple[UnitOfWork[Any], asyncio.Future[Any], tuple[str, str, str] | None]

log = structlog.get_logger("skylane.batching")


class CallsInFlight:
    """How many RPCs the server is handling right now (kept by the request-context interceptor)."""

    def __init__(self) -> None:
        self.count = 0


class ArrivalWindow:
    """Lets requests already on their way reach the queue before a busy batcher cuts its next batch.

    With SQLite inline on the loop thread (services/common/sqlite_inline.py) a batch never yields, so the
    requests that arrived during it are still inside gRPC when it ends: a batch cut at once holds one
    request and every request pays its own commit.
    The batcher waits up to `window_s` for arrivals when others are visibly on their way (queued, or
    other calls in flight, if need be after one loop turn), or when the last wait gathered some and the
    last commit was just now (the burst after an inline batch is not visible yet). A lone sequential
    caller's wait would gather nothing, so it is never made to wait (it would pay the window on every
    call)."""

    def __init__(self, calls: CallsInFlight | None, window_s: float = 0.002) -> None:
        self.calls, self.window_s = calls, window_s
        self._paid_off = False  # the last wait gathered arrivals
        self._last_commit = float("-inf")

    async def next_batch(self, queue: asyncio.Queue[Q], limit: int) -> list[Q]:
        """Waits for the first item, lets arrivals gather when busy, and takes up to `limit` items."""
        batch = [await queue.get()]
        await self._gather(queue, limit - 1)
        while len(batch) < limit and not queue.empty():
            batch.append(queue.get_nowait())
        return batch

    async def _gather(self, queue: asyncio.Queue[Any], enough: int) -> None:
        if self.calls is None:
            return
        loop = asyncio.get_running_loop()
        recent = loop.time() - self._last_commit < self.window_s
        if queue.empty() and self.calls.count <= 1 and not (self._paid_off and recent):
            await asyncio.sleep(0)  # one loop turn (microseconds) lets a burst that is on its way show
            if queue.empty() and self.calls.count <= 1:
                return
        before, deadline = queue.qsize(), loop.time() + self.window_s
        while queue.qsize() < enough:
            left = deadline - loop.time()
            if left <= 0:
                break
            await asyncio.sleep(min(left, self.window_s / 4))
        self._paid_off = queue.qsize() > before

    def committed(self) -> None:
        self._last_commit = asyncio.get_running_loop().time()


class WriteBatcher:
    def __init__(self, db: Database, *, max_batch: int = 128, calls: CallsInFlight | None = None) -> None:
        self.db, self.max_batch = db, max_batch
        self.enabled = db.dialect == "sqlite"
        self._queue: asyncio.Queue[Queued] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.commits = 0  # transactions committed by the batcher (observable in tests and metrics)
        self.units = 0  # units of work those transactions held
        self._window = ArrivalWindow(calls)

    async def run(self, work: UnitOfWork[T]) -> T:
        """Runs work in a write transaction and returns its result once that transaction is committed."""
        if not self.enabled:
            async with self.db.transaction() as session:
                return await work(session)
        if self._worker is None or self._worker.done():
            self._worker = start_outside_calls(self._drain())
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put((work, future, call_log_var.get()))
        return await future

    async def _drain(self) -> None:
        while True:
            batch = await self._window.next_batch(self._queue, self.max_batch)
            await self._commit(batch)
            self._window.committed()

    async def _commit(self, batch: list[Queued]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        try:
            async with self.db.transaction() as session:
                for work, future, call in batch:
                    if future.cancelled():
                        continue
                    # What a unit logs carries its own caller's request id, not the worker's (none).
                    caller = call_log_var.set(call)
                    try:
                        # A unit rolled back to its savepoint drops what it left for after the commit.
                        with deferred():
                            async with session.unit():
                                result = await work(session)
                        outcomes.append((future, True, result))
                    except Exception as exc:  # the savepoint is rolled back; the caller gets its own error
                        outcomes.append((future, False, exc))
                    finally:
                        call_log_var.reset(caller)
                        # Nothing one unit loaded (or added and rolled back) may leak into the next one.
                        session.expunge_all()
            self.commits += 1
            self.units += len(outcomes)
        except Exception as exc:
            log.error("batch_commit_failed", size=len(batch), error=type(exc).__name__)
            for _, future, _call in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, ok, value in outcomes:
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
