"""What every service hands to the bootstrap: its config, database, servicers and workers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import grpc
import structlog
from google.protobuf.message import Message
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.after_commit import Callback, deferred
from services.common.after_commit import run as run_after_commit
from services.common.authz import Guard
from services.common.batching import CallsInFlight, WriteBatcher
from services.common.clock import Clock
from services.common.config import ConfigStore
from services.common.db import Database
from services.common.idempotency import IdempotencyStore, idempotency_table
from services.common.metrics import ServiceMetrics
from services.common.migrations import upgrade

Worker = Callable[[], Coroutine[Any, Any, None]]
_log = structlog.get_logger("skylane.workers")


def periodic(job_name: str, interval: float, job: Callable[[], Awaitable[object]]) -> Worker:
    """A worker running `job` every `interval` seconds for as long as the service runs; a failed pass is
    logged and the next one retries."""

    async def run() -> None:
        while True:
            await asyncio.sleep(interval)  # sleep first: start-up and tests stay deterministic
            try:
                await job()
            except Exception:
                _log.exception("worker_pass_failed", job=job_name)

    return run


R = TypeVar("R", bound=Message)


class ServiceApp:
    """Composition root of one service. Subclasses add their servicers and workers."""

    name: str = ""

    def __init__(
        self,
        *,
        config: ConfigStore[Any],
        db: Database,
        clock: Clock,
        metadata: MetaData,
        migrations: Path,
    ) -> None:
        self.config, self.db, self.clock = config, db, clock
        self.metrics = ServiceMetrics(self.name)
        self.migrations = migrations
        self.calls = CallsInFlight()  # kept by the server's request-context interceptor
        self.writes = WriteBatcher(db, calls=self.calls)
        table = metadata.tables.get("idempotency_keys")
        self.idempotency = IdempotencyStore(
            table if table is not None else idempotency_table(metadata), db.dialect, clock
        )

    async def write(
        self,
        method: str,
        request: Message,
        response_type: type[R],
        work: Callable[[AsyncSession], Awaitable[R]],
    ) -> R:
        """Runs one mutating call: its unit of work and idempotency record in the write batcher.

        The answer comes back only once committed; a retry with the same key gets the stored response (and
        reports nothing again). `work` must only await the database (it may share a transaction with
        concurrent calls); what it hands to after_commit runs once the answer is durable.
        """

        committed: list[Callback] = []

        async def unit(session: AsyncSession) -> R:
            with deferred(keep=True) as reported:
                result = await self.idempotency.run(session, method, request, response_type, lambda: work(session))
            committed.extend(reported)
            return result

        result = await self.writes.run(unit)
        # Durable now: what the unit left for after its commit (counters, domain-event log lines) runs here,
        # in the caller's task, so the lines carry the call's request id.
        run_after_commit(committed)
        return result

    async def start(self) -> None:
        """Brings the database schema to head; subclasses warm their caches after calling this."""
        await upgrade(self.db, self.migrations)

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        """Registers business servicers; returns their full service names (for health and reflection)."""
        raise NotImplementedError

    def ops_methods(self) -> frozenset[str]:
        """Full names ('/package.Service/Method') of ops methods outside an *OpsService and the Admin
        config methods, which services/common/authz.py treats as ops already."""
        return frozenset()

    def caller_guards(self) -> dict[str, Guard]:
        """Checks of the caller (full method name → check) that the edge runs before a request is parsed,
        so a caller the method refuses learns nothing of its rules; ops methods have the ops guard."""
        return {}

    def workers(self) -> list[Worker]:
        """Background loops, started after the server and cancelled on shutdown."""
        return []

    async def stop(self) -> None:
        await self.writes.close()
        await self.db.dispose()
