"""What the use cases depend on, handed over explicitly instead of the App object.

`Runtime` holds the long-lived dependencies (built once by app.py and given to the servicers and the
maintenance passes). `Deps` is what one unit of work sees: the programme and the instant it runs at,
fixed for the whole unit so every rule in it agrees on them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from google.protobuf.message import Message
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.batching import WriteBatcher
from services.common.clock import Clock
from services.common.config import ConfigStore
from services.common.db import Database
from services.growth.config import GrowthConfig
from services.growth.service.telemetry import GrowthTelemetry

R = TypeVar("R", bound=Message)


class Write(Protocol):
    """ServiceApp.write: one unit of work committed with its idempotency record."""

    def __call__(
        self, method: str, request: Message, response_type: type[R], work: Callable[[AsyncSession], Awaitable[R]]
    ) -> Awaitable[R]: ...


@dataclass(frozen=True)
class Deps:
    """One unit of work's view: the dialect, the programme and its version, the instant, id makers."""

    dialect: str
    cfg: GrowthConfig
    version: str
    now: datetime
    new_id: Callable[[], str]
    new_code: Callable[[], str]
    telemetry: GrowthTelemetry  # points moved and redemptions, counted once the unit commits

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.cfg.timezone)

    def at(self, now: datetime) -> Deps:
        """The same programme at another instant."""
        return replace(self, now=now)


@dataclass(frozen=True)
class Runtime:
    """The service's long-lived dependencies; `deps()` snapshots them for one unit of work."""

    config: ConfigStore[GrowthConfig]
    db: Database
    clock: Clock
    write: Write
    writes: WriteBatcher  # runs a unit of work without an idempotency record (dry runs)
    idempotency: Table
    new_id: Callable[[], str]
    new_code: Callable[[], str]
    telemetry: GrowthTelemetry

    def deps(self) -> Deps:
        """The current programme at the current instant."""
        return Deps(
            self.db.dialect,
            self.config.model,
            self.config.current.version,
            self.clock.now(),
            self.new_id,
            self.new_code,
            self.telemetry,
        )
