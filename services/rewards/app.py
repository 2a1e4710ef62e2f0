"""Composition root of the rewards service: builds the policy runtime, the use cases, the servicer and
the background passes, and hands each exactly what it uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import MetaData

from services.common.app import ServiceApp, Worker
from services.common.clock import Clock
from services.common.config import ConfigStore
from services.common.db import Database
from services.common.replica_share import ReplicaLoad
from services.common.settings import AppSettings
from services.rewards.api import RewardsServicer, UseCases
from services.rewards.config import RewardsConfig
from services.rewards.models import Base
from services.rewards.runtime import ConfigView, PolicyRuntime
from services.rewards.service.claim import Claim
from services.rewards.service.dry_run import PreviewTriggers
from services.rewards.service.expiry import ExpireCoupons
from services.rewards.service.fallback import SendFallbackWaves
from services.rewards.service.follow_ups import ListFollowUps
from services.rewards.service.journeys import Journeys
from services.rewards.service.offer import Offer
from services.rewards.service.opt_out import SetOptOut
from services.rewards.service.payment import RecordPayment
from services.rewards.service.pending import ListPendingOffers
from services.rewards.service.policy_state import PolicyState
from services.rewards.service.redeem import Redeem
from services.rewards.service.refund import RefundOrder
from services.rewards.service.report import GetCampaignReport
from services.rewards.service.telemetry import RewardsTelemetry
from services.rewards.service.unit import WriteCalls
from services.rewards.workers import Passes, consumers
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc

SERVICE = rewards_pb2.DESCRIPTOR.services_by_name["RewardsService"].full_name


class RewardsApp(ServiceApp):
    name = "rewards"
    expiry_interval = 60.0
    fallback_interval = 300.0
    flush_interval = 30.0
    gauge_interval = 15.0  # budgets and λ into the metrics: about a scrape interval
    take_in_interval = 60.0  # other replicas' outcomes into the posteriors (a read of every decision's cell)

    _view: ConfigView | None = None

    def __init__(
        self, *, config: ConfigStore[Any], db: Database, clock: Clock, metadata: MetaData, migrations: Path
    ) -> None:
        super().__init__(config=config, db=db, clock=clock, metadata=metadata, migrations=migrations)
        self.runtime = PolicyRuntime()
        self.policy_state = PolicyState(self.db, self.runtime)
        self.telemetry = RewardsTelemetry(self.metrics, self.db, self.runtime)
        calls, dialect = WriteCalls(self.write), db.dialect
        self.use_cases = UseCases(
            offer=Offer(calls, self.runtime, clock, dialect, self.telemetry),
            claim=Claim(calls, self.runtime, clock, dialect),
            redeem=Redeem(calls, self.runtime, clock, dialect),
            refund_order=RefundOrder(calls, self.runtime, clock),
            record_payment=RecordPayment(calls, self.runtime, clock, dialect),
            set_opt_out=SetOptOut(calls, dialect),
            list_pending_offers=ListPendingOffers(self.db, clock),
            get_campaign_report=GetCampaignReport(self.db, self.runtime, clock),
            preview_triggers=PreviewTriggers(self.db, clock),
            list_follow_ups=ListFollowUps(self.db, clock),
        )
        self.journeys = Journeys(self.db, self.writes.run, self.view, clock, self.runtime)
        self.consumers = consumers(config, self.db, self.writes, clock, self.journeys)
        fallback_waves = SendFallbackWaves(self.db, self.writes.run, self.runtime)
        # Each pass also tries the other kind of a customer's due touches: priority decides between them.
        self.journeys.others, fallback_waves.others = [fallback_waves.due_for], [self.journeys.due_for]
        self.passes = Passes(
            clock,
            self.view,
            ExpireCoupons(self.db, self.runtime, self.view),
            fallback_waves,
            self.policy_state,
            self.telemetry,
            self.journeys,
            ReplicaLoad(self.db, clock, self.runtime.traffic),
        )

    def view(self) -> ConfigView:
        """The running config with what the hot paths derive from it, rebuilt once per version."""
        current = self.config.current
        view = self._view
        if view is None or view.version != current.version or view.cfg is not current.model:
            view = self._view = ConfigView.build(current.version, current.model)
        return view

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        rewards_pb2_grpc.add_RewardsServiceServicer_to_server(RewardsServicer(self.view, self.use_cases), server)
        return [SERVICE]

    async def start(self) -> None:
        await super().start()
        await self.policy_state.load(self.config.model)
        await self.passes.publish_load()  # the other replicas, and this one to them, at once
        await self.passes.refresh_gauges()  # every campaign's series from the first scrape

    def ops_methods(self) -> frozenset[str]:
        return frozenset({f"/{SERVICE}/{m}" for m in ("GetCampaignReport", "PreviewTriggers", "ListFollowUps")})

    def workers(self) -> list[Worker]:
        loops = self.passes.loops(
            expiry_interval=self.expiry_interval,
            fallback_interval=self.fallback_interval,
            flush_interval=self.flush_interval,
            gauge_interval=self.gauge_interval,
            take_in_interval=self.take_in_interval,
        )
        return [*loops, *(consumer.run for consumer in self.consumers)]

    async def stop(self) -> None:
        try:
            await self.passes.flush_policy()
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
