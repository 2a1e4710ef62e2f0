"""Composition root of the router service: builds every piece once and hands each what it uses."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import grpc

from services.common.app import ServiceApp, Worker, periodic
from services.common.authz import Guard
from services.common.config import ConfigStore
from services.common.replica_share import PUBLISH_SECONDS, ReplicaLoad
from services.common.settings import AppSettings
from services.router.api import RouterOpsServicer, RouterServicer
from services.router.config import RouterConfig
from services.router.models import Base
from services.router.partners.api import LeadServicer, postback_guards
from services.router.partners.service.dead_letters import DeadLetters
from services.router.partners.service.delivery import Dispatcher
from services.router.partners.service.desk import PartnerDesk
from services.router.partners.service.hook import PartnerHook
from services.router.partners.service.leads import Leads
from services.router.partners.service.postbacks import ReportOutcome
from services.router.partners.service.reports import LeadReports
from services.router.partners.service.telemetry import PartnerTelemetry
from services.router.partners.workers import deliver_leads
from services.router.service.commands import RoutingHook
from services.router.service.decisions import RecordedDecisions
from services.router.service.loans import LoansDrawn
from services.router.service.outgoing import DecisionEvents
from services.router.service.policies import PolicyController
from services.router.service.policy_changes import PolicyChanges
from services.router.service.reports import PolicyReports
from services.router.service.routing import RoutingService
from services.router.service.what_if import WhatIf
from services.router.workers import refresh_gauges, refresh_policies
from skylane.router.v1 import leads_pb2, leads_pb2_grpc, router_pb2, router_pb2_grpc

# How often a process picks up policy changes made through another process's ops RPCs.
POLICY_REFRESH_SECONDS = 2.0
# How often the gauges read from the database (dead letters) are refreshed: about a scrape interval.
GAUGE_REFRESH_SECONDS = 15.0


class RouterApp(ServiceApp):
    name = "router"
    gauge_interval = GAUGE_REFRESH_SECONDS

    def __init__(
        self, *, hooks: list[RoutingHook] | None = None, environ: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.policies = PolicyController(self.config, self.db, self.clock, self.write)
        # The partner layer: desk (ping, selection), leads, outbox dispatcher, and its RouteApplicant hook.
        self.partners = PartnerDesk(
            db=self.db, clock=self.clock, config=lambda: self.config.model.partners, environ=environ
        )
        self.partner_telemetry = PartnerTelemetry(self.metrics)
        self.partners.breaker.on_change = self.partner_telemetry.circuit_changed
        self.leads = Leads(self.partners, self.partner_telemetry)
        self.dispatcher = Dispatcher(self.partners, telemetry=self.partner_telemetry)
        self.config.subscribe(lambda _loaded: self.partners.on_config())
        # The partner hook first: the decision events then name a pool decision's lead.
        hooks = [PartnerHook(self.partners, self.leads), DecisionEvents(self.db.dialect), *(hooks or [])]
        self.routing = RoutingService(self.db, self.clock, self.policies, self.metrics, hooks, self.calls)
        self.decisions = RecordedDecisions(self.db)
        self.policy_changes = PolicyChanges(self.policies)
        self.reports = PolicyReports(self.db, self.policies)
        self.what_if = WhatIf(self.db, self.policies)
        self.postbacks = ReportOutcome(self.write, self.partners)
        self.loans = LoansDrawn(self.write, self.clock, self.db.dialect)
        self.dead_letters = DeadLetters(self.db, self.write, self.clock)
        self.lead_reports = LeadReports(self.partners)
        self.replica_load = ReplicaLoad(self.db, self.clock, self.partners.traffic)

    async def start(self) -> None:
        await super().start()
        await self.policies.start()
        await self.partners.load()
        await self.replica_load.publish()  # the other replicas, and this one to them, at once
        await self.partner_telemetry.refresh(self.partners)  # every partner's series from the first scrape

    def caller_guards(self) -> dict[str, Guard]:
        return postback_guards(self.partners.partner_for_token)

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        router_pb2_grpc.add_RouterServiceServicer_to_server(
            RouterServicer(self.policies, self.routing, self.decisions, self.loans), server
        )
        router_pb2_grpc.add_RouterOpsServiceServicer_to_server(
            RouterOpsServicer(self.policy_changes, self.reports, self.what_if), server
        )
        leads_pb2_grpc.add_LeadServiceServicer_to_server(
            LeadServicer(self.partners.partner_for_token, self.postbacks, self.dead_letters, self.lead_reports), server
        )
        services = router_pb2.DESCRIPTOR.services_by_name
        return [
            services["RouterService"].full_name,
            services["RouterOpsService"].full_name,
            leads_pb2.DESCRIPTOR.services_by_name["LeadService"].full_name,
        ]

    def ops_methods(self) -> frozenset[str]:
        # LeadService mixes the partners' outcome postback (token-authenticated) with ops views and repairs.
        lead_service = leads_pb2.DESCRIPTOR.services_by_name["LeadService"].full_name
        ops = ("GetLeadTrace", "ListDeadLetters", "ReplayDeadLetter", "GetPartnerReport")
        return frozenset(f"/{lead_service}/{name}" for name in ops)

    def workers(self) -> list[Worker]:
        workers: list[Worker] = [
            lambda: refresh_policies(self.policies, POLICY_REFRESH_SECONDS),
            lambda: refresh_gauges(self.partner_telemetry, self.partners, self.gauge_interval),
            periodic("replica_load", PUBLISH_SECONDS, self.replica_load.publish),
        ]
        if self.config.model.partners.delivery.background:
            workers.append(lambda: deliver_leads(self.partners, self.leads, self.dispatcher))
        return workers

    async def stop(self) -> None:
        await self.routing.stop()
        await self.policies.settle()
        await self.partners.close()
        await super().stop()


def build(settings: AppSettings) -> RouterApp:
    config = ConfigStore(settings.config_path, RouterConfig, env_prefix="SKYLANE_ROUTER", environ=settings.environ)
    db = settings.open_database()
    return RouterApp(
        config=config,
        db=db,
        clock=settings.clock,
        metadata=Base.metadata,
        migrations=Path(__file__).parent / "migrations",
        environ=settings.environ,
    )
