"""Composition root of the growth service."""

from __future__ import annotations

import secrets
import uuid
from pathlib import Path
from typing import Any

import grpc

from services.common.app import ServiceApp, Worker
from services.common.config import ConfigStore
from services.common.settings import AppSettings
from services.growth.api import GrowthOpsServicer, GrowthServicer, RightsSupplierServicer
from services.growth.config import GrowthConfig
from services.growth.models import Base
from services.growth.rights import ensure_stock_rows
from services.growth.workers import Maintenance
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc

# Voucher codes avoid look-alike characters (0/O, 1/I/L) so they survive being read aloud.
_VOUCHER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_id() -> str:
    return uuid.uuid4().hex


def new_voucher_code() -> str:
    return "SKY-" + "".join(secrets.choice(_VOUCHER_ALPHABET) for _ in range(12))


class GrowthApp(ServiceApp):
    name = "growth"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config: ConfigStore[GrowthConfig]
        self.new_id = new_id
        self.new_code = new_voucher_code
        self.maintenance = Maintenance(self)

    async def start(self) -> None:
        await super().start()
        async with self.db.transaction() as session:
            await ensure_stock_rows(session, self.db.dialect, self.config.model)

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        growth_pb2_grpc.add_GrowthServiceServicer_to_server(GrowthServicer(self), server)
        growth_pb2_grpc.add_GrowthOpsServiceServicer_to_server(GrowthOpsServicer(self), server)
        growth_pb2_grpc.add_RightsSupplierServiceServicer_to_server(RightsSupplierServicer(self), server)
        services = growth_pb2.DESCRIPTOR.services_by_name
        return [services[name].full_name for name in ("GrowthService", "GrowthOpsService", "RightsSupplierService")]

    def workers(self) -> list[Worker]:
        return self.maintenance.loops()  # type: ignore[return-value]


def build(settings: AppSettings) -> GrowthApp:
    config = ConfigStore(settings.config_path, GrowthConfig, env_prefix="SKYLANE_GROWTH", environ=settings.environ)
    db = settings.open_database()
    return GrowthApp(
        config=config,
        db=db,
        clock=settings.clock,
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
    )
