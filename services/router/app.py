"""Composition root of the router service."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.router.api import RouterServicer
from services.router.config import RouterConfig
from services.router.models import Base
from services.common.app import ServiceApp
from services.common.config import ConfigStore
from services.common.db import Database
from services.common.settings import AppSettings
from skylane.router.v1 import router_pb2, router_pb2_grpc


class RouterApp(ServiceApp):
    name = "router"

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        router_pb2_grpc.add_RouterServiceServicer_to_server(RouterServicer(self), server)
        return [router_pb2.DESCRIPTOR.services_by_name["RouterService"].full_name]


def build(settings: AppSettings) -> RouterApp:
    config = ConfigStore(settings.config_path, RouterConfig, env_prefix="SKYLANE_ROUTER", environ=settings.environ)
    db = Database(settings.db_url, schema=settings.db_schema, sqlite_synchronous=settings.sqlite_synchronous)
    return RouterApp(
        config=config, db=db, clock=settings.clock, metadata=Base.metadata, migrations=Path(__file__).parent / "migrations"
    )
