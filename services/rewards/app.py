"""Composition root of the rewards service."""

from __future__ import annotations

from pathlib import Path

import grpc

from services.rewards.api import RewardsServicer
from services.rewards.config import RewardsConfig
from services.rewards.models import Base
from services.common.app import ServiceApp
from services.common.config import ConfigStore
from services.common.db import Database
from services.common.settings import AppSettings
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc


class RewardsApp(ServiceApp):
    name = "rewards"

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        rewards_pb2_grpc.add_RewardsServiceServicer_to_server(RewardsServicer(self), server)
        return [rewards_pb2.DESCRIPTOR.services_by_name["RewardsService"].full_name]


def build(settings: AppSettings) -> RewardsApp:
    config = ConfigStore(settings.config_path, RewardsConfig, env_prefix="SKYLANE_REWARDS", environ=settings.environ)
    db = Database(settings.db_url, schema=settings.db_schema, sqlite_synchronous=settings.sqlite_synchronous)
    return RewardsApp(
        config=config, db=db, clock=settings.clock, metadata=Base.metadata, migrations=Path(__file__).parent / "migrations"
    )
