"""Process-level settings handed to each service's composition root (the only place env is read
is the CLI, which builds these)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.common.clock import Clock, SystemClock
from services.common.db import Database


@dataclass(frozen=True)
class AppSettings:
    config_path: Path
    db_url: str
    clock: Clock = field(default_factory=SystemClock)
    environ: Mapping[str, str] = field(default_factory=dict)
    db_schema: str | None = None  # PostgreSQL search_path (tests isolate themselves this way)
    sqlite_synchronous: str = "FULL"

    def open_database(self) -> Database:
        return Database(
            self.db_url,
            schema=self.db_schema,
            sqlite_synchronous=self.sqlite_synchronous,
        )
