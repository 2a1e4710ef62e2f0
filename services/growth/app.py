"""Composition root of the growth service."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.growth.api import GrowthServicer
from services.growth.config import GrowthConfig
from services.growth.models import Base
from services.common.app import ServiceApp
from services.common.config import ConfigStore
from services.common.db import Database
from services.common.settings import AppSettings
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc


class GrowthApp(ServiceApp):
    name = "growth"

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        growth_pb2_grpc.add_GrowthServiceServicer_to_server(GrowthServicer(self), server)
        return [growth_pb2.DESCRIPTOR.services_by_name["GrowthService"].full_name]


def build(settings: AppSettings) -> GrowthApp:
    config = ConfigStore(settings.config_path, GrowthConfig, env_prefix="SKYLANE_GROWTH", environ=settings.environ)
    db = Database(settings.db_url, schema=settings.db_schema, sqlite_synchronous=settings.sqlite_synchronous)
    return GrowthApp(
        config=config, db=db, clock=settings.clock, metadata=Base.metadata, migrations=Path(__file__).parent / "migrations"
    )
