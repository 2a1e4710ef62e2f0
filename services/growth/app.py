"""Composition root of the growth service: builds the runtime the use cases share and hands the
servicers and the background loops exactly what they use."""

from __future__ import annotations

import functools
import secrets
import uuid
from pathlib import Path
from typing import Any

import grpc

from services.common.app import ServiceApp, Worker
from services.common.config import ConfigStore
from services.common.settings import AppSettings
from services.growth import workers
from services.growth.api import GrowthOpsServicer, GrowthServicer, RightsSupplierServicer
from services.growth.config import GrowthConfig
from services.growth.domain.vouchers import voucher_code
from services.growth.models import Base
from services.growth.service.activity import TaskIndex
from services.growth.service.context import Runtime
from services.growth.service.maintenance import Maintenance
from services.growth.service.telemetry import GrowthTelemetry
from services.growth.store.rights import ensure_stock_rows
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc


def new_id() -> str:
    return uuid.uuid4().hex


new_voucher_code = functools.partial(voucher_code, secrets.choice)


class GrowthApp(ServiceApp):
    name = "growth"
    gauge_interval = 15.0  # the liability and stock into the metrics: about a scrape interval

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config: ConfigStore[GrowthConfig]
        self.runtime = Runtime(
            config=self.config,
            db=self.db,
            clock=self.clock,
            write=self.write,
            writes=self.writes,
            idempotency=self.idempotency.table,
            new_id=new_id,
            new_code=new_voucher_code,
            telemetry=GrowthTelemetry(self.metrics),
        )
        self.maintenance = Maintenance(self.runtime)
        self.consumers = workers.consumers(self.runtime)

    async def start(self) -> None:
        await super().start()
        async with self.db.transaction() as session:
            await ensure_stock_rows(session, self.db.dialect, self.config.model)
        await self.refresh_gauges()  # the liability and every right's stock from the first scrape

    async def refresh_gauges(self) -> None:
        await self.runtime.telemetry.refresh(self.db, self.config.model)

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        growth_pb2_grpc.add_GrowthServiceServicer_to_server(GrowthServicer(self.runtime, TaskIndex()), server)
        growth_pb2_grpc.add_GrowthOpsServiceServicer_to_server(
            GrowthOpsServicer(self.runtime, self.maintenance), server
        )
        growth_pb2_grpc.add_RightsSupplierServiceServicer_to_server(RightsSupplierServicer(self.runtime), server)
        services = growth_pb2.DESCRIPTOR.services_by_name
        return [services[name].full_name for name in ("GrowthService", "GrowthOpsService", "RightsSupplierService")]

    def workers(self) -> list[Worker]:
        loops = workers.loops(self.maintenance, lambda: self.config.model.workers.interval_seconds)
        loops.append(workers.gauges(self.refresh_gauges, self.gauge_interval))
        return [*loops, *(consumer.run for consumer in self.consumers)]


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
