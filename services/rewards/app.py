"""Composition root of the rewards service."""

from __future__ import annotations

from pathlib import Path

import grpc
from sqlalchemy import and_, case, func, or_, select

from services.common.app import ServiceApp, Worker
from services.common.config import ConfigStore
from services.common.settings import AppSettings
from services.rewards import workers
from services.rewards.api import RewardsServicer
from services.rewards.config import Campaign, RewardsConfig
from services.rewards.domain.policy import BASELINE
from services.rewards.models import Base, Coupon, Decision, PolicyStateRow
from services.rewards.runtime import ConfigView, PolicyRuntime, segment_values
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc


class RewardsApp(ServiceApp):
    name = "rewards"
    expiry_interval = 60.0
    fallback_interval = 300.0
    flush_interval = 30.0

    runtime: PolicyRuntime
    _view: ConfigView | None = None

    def view(self) -> ConfigView:
        """The running config with what the hot paths derive from it, rebuilt once per version."""
        current = self.config.current
        view = self._view
        if view is None or view.version != current.version or view.cfg is not current.model:
            view = self._view = ConfigView.build(current.version, current.model)
        return view

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        rewards_pb2_grpc.add_RewardsServiceServicer_to_server(RewardsServicer(self), server)
        return [rewards_pb2.DESCRIPTOR.services_by_name["RewardsService"].full_name]

    async def start(self) -> None:
        await super().start()
        self.runtime = PolicyRuntime()
        await self._load_policy_state()

    async def _load_policy_state(self) -> None:
        """Rebuilds the posteriors from recorded decisions (durable) and λ from its last flush.

        An offer converted when its coupon is redeemed (and not refunded); a holdout decision when
        RecordPayment marked it converted.
        """
        cfg = self.config.model
        won = or_(and_(Decision.outcome == "HOLDOUT", Decision.converted), Coupon.state == "REDEEMED")
        async with self.db.report() as session:
            rows = await session.execute(
                select(
                    Decision.campaign_id,
                    Decision.segment,
                    Decision.arm_id,
                    Decision.outcome,
                    func.count(),
                    func.sum(case((won, 1), else_=0)),
                )
                .outerjoin(Coupon, Coupon.decision_id == Decision.id)
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

    def ops_methods(self) -> frozenset[str]:
        service = rewards_pb2.DESCRIPTOR.services_by_name["RewardsService"].full_name
        return frozenset({f"/{service}/GetCampaignReport"})

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
    db = settings.open_database()
    return RewardsApp(
        config=config,
        db=db,
        clock=settings.clock,
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
    )
