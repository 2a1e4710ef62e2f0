"""Composition root of the rewards service."""

from __future__ import annotations

from pathlib import Path

import grpc
from sqlalchemy import case, func, select

from services.common.app import ServiceApp, Worker
from services.common.config import ConfigStore
from services.common.db import Database
from services.common.settings import AppSettings
from services.rewards import workers
from services.rewards.api import RewardsServicer
from services.rewards.config import Campaign, RewardsConfig
from services.rewards.domain.policy import BASELINE
from services.rewards.models import Base, Decision, PolicyStateRow
from services.rewards.runtime import PolicyRuntime, segment_values
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc


class RewardsApp(ServiceApp):
    name = "rewards"
    expiry_interval = 60.0
    fallback_interval = 300.0
    flush_interval = 30.0

    runtime: PolicyRuntime

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        rewards_pb2_grpc.add_RewardsServiceServicer_to_server(RewardsServicer(self), server)
        return [rewards_pb2.DESCRIPTOR.services_by_name["RewardsService"].full_name]

    async def start(self) -> None:
        await super().start()
        self.runtime = PolicyRuntime()
        await self._load_policy_state()

    async def _load_policy_state(self) -> None:
        """Rebuilds the posteriors from recorded decisions (durable) and λ from its last flush."""
        cfg = self.config.model
        async with self.db.read() as session:
            rows = await session.execute(
                select(
                    Decision.campaign_id,
                    Decision.segment,
                    Decision.arm_id,
                    Decision.outcome,
                    func.count(),
                    func.sum(case((Decision.converted, 1), else_=0)),
                )
                .where(Decision.outcome.in_(["OFFERED", "HOLDOUT"]), Decision.wave == 0)
                .group_by(Decision.campaign_id, Decision.segment, Decision.arm_id, Decision.outcome)
            )
            for campaign_id, segment, arm, outcome, n, wins in rows.all():
                post = self.runtime.campaign(cfg, campaign_id).posteriors
                key = BASELINE if outcome == "HOLDOUT" else arm
                post.record_trial(segment, key, int(n))
                post.record_success(segment, key, int(wins or 0))
            for campaign_id, lam in (
                await session.execute(select(PolicyStateRow.campaign_id, PolicyStateRow.lam))
            ).all():
                self.runtime.campaign(cfg, campaign_id).pacer.lam = float(lam)

    def segment_values(self, cfg: RewardsConfig, campaign: Campaign) -> dict[str, float]:
        return segment_values(cfg, campaign)

    def workers(self) -> list[Worker]:
        return [
            workers.loop("expire", self.expiry_interval, lambda: workers.expire_pass(self)),
            workers.loop("fallback", self.fallback_interval, lambda: workers.fallback_pass(self)),
            workers.loop("flush_policy", self.flush_interval, lambda: workers.flush_policy(self)),
        ]

    async def stop(self) -> None:
        try:
            await workers.flush_policy(self)
        finally:
            await super().stop()


def build(settings: AppSettings) -> RewardsApp:
    config = ConfigStore(settings.config_path, RewardsConfig, env_prefix="SKYLANE_REWARDS", environ=settings.environ)
    db = Database(settings.db_url, schema=settings.db_schema, sqlite_synchronous=settings.sqlite_synchronous)
    return RewardsApp(
        config=config,
        db=db,
        clock=settings.clock,
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
    )
