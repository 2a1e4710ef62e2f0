"""What every service hands to the bootstrap: its config, database, servicers and workers."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import MetaData

from services.common.batching import WriteBatcher
from services.common.clock import Clock
from services.common.config import ConfigStore
from services.common.db import Database
from services.common.idempotency import IdempotencyStore, idempotency_table
from services.common.metrics import ServiceMetrics
from services.common.migrations import upgrade

Worker = Callable[[], Coroutine[Any, Any, None]]


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
        self.writes = WriteBatcher(db)
        table = metadata.tables.get("idempotency_keys")
        self.idempotency = IdempotencyStore(
            table if table is not None else idempotency_table(metadata), db.dialect, clock
        )

    async def start(self) -> None:
        """Brings the database schema to head; subclasses warm their caches after calling this."""
        await upgrade(self.db, self.migrations)

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        """Registers business servicers; returns their full service names (for health and reflection)."""
        raise NotImplementedError

    def workers(self) -> list[Worker]:
        """Background loops, started after the server and cancelled on shutdown."""
        return []

    async def stop(self) -> None:
        await self.writes.close()
        await self.db.dispose()
