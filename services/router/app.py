"""Composition root of the router service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

from services.common.app import ServiceApp, Worker
from services.common.config import ConfigStore
from services.common.db import Database
from services.common.settings import AppSettings
from services.router.api import RouterOpsServicer, RouterServicer
from services.router.config import RouterConfig
from services.router.models import Base
from services.router.ops import RouterOps
from services.router.policies import PolicyController
from services.router.service import RoutingHook, RoutingService
from skylane.router.v1 import router_pb2, router_pb2_grpc

# How often a process picks up policy changes made through another process's ops RPCs.
POLICY_REFRESH_SECONDS = 2.0


class RouterApp(ServiceApp):
    name = "router"

    def __init__(self, *, hooks: list[RoutingHook] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policies = PolicyController(self.config, self.db, self.clock, self.idempotency)
        self.routing = RoutingService(self.db, self.clock, self.policies, self.metrics, hooks or [])
        self.ops = RouterOps(self.db, self.policies)

    async def start(self) -> None:
        await super().start()
        await self.policies.start()

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        router_pb2_grpc.add_RouterServiceServicer_to_server(RouterServicer(self), server)
        router_pb2_grpc.add_RouterOpsServiceServicer_to_server(RouterOpsServicer(self), server)
        services = router_pb2.DESCRIPTOR.services_by_name
        return [services["RouterService"].full_name, services["RouterOpsService"].full_name]

    def workers(self) -> list[Worker]:
        return [lambda: self.policies.watch(POLICY_REFRESH_SECONDS)]

    async def stop(self) -> None:
        await self.routing.stop()
        await self.policies.settle()
        await super().stop()


def build(settings: AppSettings) -> RouterApp:
    config = ConfigStore(settings.config_path, RouterConfig, env_prefix="SKYLANE_ROUTER", environ=settings.environ)
    db = Database(settings.db_url, schema=settings.db_schema, sqlite_synchronous=settings.sqlite_synchronous)
    return RouterApp(
        config=config,
        db=db,
        clock=settings.clock,
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
    )
