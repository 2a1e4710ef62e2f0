"""The real router with its partner layer for tests: simulated partners on real sockets, a real
`skylane.router.v1` server (RouterService + LeadService) on a real database built by the migrations.
Each lead starts with a real RouteApplicant call; the test drives the dispatcher and the clock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from google.protobuf.timestamp_pb2 import Timestamp

from services.common.clock import ManualClock
from services.router.app import RouterApp, build
from services.router.partners.domain import Consent, LeadApplicant, TraceEntry
from services.router.partners.service.delivery import Dispatcher
from services.router.partners.service.desk import PartnerDesk
from services.router.partners.service.hook import STATUS
from services.router.partners.service.leads import LeadResult, Leads
from services.router.sim.partner_sim import RunningSim, start_sim, stop_sims
from services.router.sim.scenario import SimPartner
from skylane.common.v1 import types_pb2
from skylane.router.v1 import leads_pb2, leads_pb2_grpc, router_pb2, router_pb2_grpc
from tests.helpers import DbTarget, Harness, key, running_service
from tests.router.helpers import START, config_text

# Scores of the test policy (tests/router/helpers.py): external score = points; near_prime >= 600, tail >= 500.
TIER_SCORES = {"prime": 720, "near_prime": 620, "tail": 520}
_STATUS_NAME = {v: k for k, v in STATUS.items()}


@dataclass
class Stack:
    harness: Harness
    sims: dict[str, RunningSim]
    config: dict[str, Any]
    path: Path
    base_text: str

    @property
    def app(self) -> RouterApp:
        return self.harness.app  # type: ignore[no-any-return]

    @property
    def desk(self) -> PartnerDesk:
        return self.app.partners

    @property
    def lead_records(self) -> Leads:
        return self.app.leads

    @property
    def dispatcher(self) -> Dispatcher:
        return self.app.dispatcher

    @property
    def clock(self) -> ManualClock:
        return self.harness.clock

    @property
    def leads(self) -> leads_pb2_grpc.LeadServiceStub:
        return leads_pb2_grpc.LeadServiceStub(self.harness.channel)

    @property
    def router(self) -> router_pb2_grpc.RouterServiceStub:
        return router_pb2_grpc.RouterServiceStub(self.harness.channel)

    async def decide(self, applicant: LeadApplicant) -> router_pb2.RoutingDecision:
        return await self.router.RouteApplicant(route_request(applicant))

    async def route(self, applicant: LeadApplicant) -> LeadResult:
        """One RouteApplicant call; the lead it made, with its decision trace."""
        decision = await self.decide(applicant)
        assert decision.destination == router_pb2.DESTINATION_PARTNER_POOL, decision
        p = decision.partner
        trace = await self.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=p.lead_id))
        entries = [
            TraceEntry(e.partner_id, e.status, e.detail, e.bid.fen, e.latency_ms, e.expected_value_fen, e.rank)
            for e in trace.entries
        ]
        return LeadResult(p.lead_id, _STATUS_NAME[p.status], p.partner_id, p.price.fen, entries)

    async def drain(self, rounds: int = 10) -> None:
        for _ in range(rounds):
            if not await self.dispatcher.run_once():
                return

    def reconfigure(self, **partners_changes: Any) -> None:
        self.config["partners"].update(partners_changes)
        self.path.write_text(self.base_text + yaml.safe_dump(self.config), encoding="utf-8")
        self.app.config.reload()


def partner_entry(pid: str, endpoint: str, **overrides: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": pid,
        "endpoint": endpoint,
        "token": f"token-{pid}",
        "partner_class": "consumer_finance",
        "tiers": ["near_prime", "tail"],
        "annual_cost_rate": 0.18,
        "allow_listed": True,
        "ping_timeout_ms": 5000,  # generous: a loaded CI host must not turn a quick sim into a timeout
    }
    entry.update(overrides)
    return entry


@asynccontextmanager
async def partner_stack(
    db_target: DbTarget,
    tmp_path: Path,
    sims: Sequence[SimPartner],
    *,
    lenders: dict[str, dict[str, Any]] | None = None,
    router_config: dict[str, Any] | None = None,
    **partners_settings: Any,
) -> AsyncIterator[Stack]:
    running = [await start_sim(spec) for spec in sims]
    by_id = {r.sim.spec.id: r for r in running}
    lenders = lenders or {}
    delivery = {"background": False, "breaker_failures": 3, "breaker_cooldown_ms": 30_000, "max_attempts": 6}
    delivery.update(partners_settings.pop("delivery", {}))
    config = {
        "partners": {
            "ping_budget_ms": 5000,
            "delivery": delivery,
            **partners_settings,
            "lenders": [partner_entry(r.sim.spec.id, r.address, **lenders.get(r.sim.spec.id, {})) for r in running],
        }
    }
    base_text = config_text(stickiness_hours=0, **(router_config or {}))
    path = tmp_path / "router.yaml"
    path.write_text(base_text + yaml.safe_dump(config), encoding="utf-8")
    try:
        async with running_service(build, db_target, path, clock=ManualClock(START)) as harness:
            yield Stack(harness, by_id, config, path, base_text)
    finally:
        await stop_sims(running)


def applicant(
    tier: str = "near_prime",
    *,
    consent_ids: Sequence[str] = (),
    consent_classes: Sequence[str] = ("consumer_finance", "licensed_bank"),
    purposes: Sequence[str] = ("loan_referral",),
    age: int = 30,
    amount_fen: int = 2_000_000,
) -> LeadApplicant:
    return LeadApplicant(
        applicant_ref=f"cust_{uuid.uuid4().hex[:16]}",
        tier=tier,
        score=TIER_SCORES.get(tier, 620),
        age=age,
        region="CN-31",
        requested_amount_fen=amount_fen,
        term_months=12,
        phone_hash=uuid.uuid4().hex * 2,
        channel="ceair_app",
        consents=(Consent(frozenset(consent_ids), frozenset(consent_classes), frozenset(purposes), START),),
    )


def route_request(a: LeadApplicant) -> router_pb2.RouteApplicantRequest:
    granted = Timestamp()
    granted.FromDatetime(START)
    return router_pb2.RouteApplicantRequest(
        idempotency_key=key(),
        channel=a.channel,
        scenario="flight_booking",
        applicant=types_pb2.CustomerRef(ref=a.applicant_ref),
        phone_hash=a.phone_hash,
        consents=[
            router_pb2.ConsentRecord(
                recipient_ids=sorted(c.recipient_ids),
                recipient_classes=sorted(c.recipient_classes),
                purposes=sorted(c.purposes),
                granted_at=granted,
            )
            for c in a.consents
        ],
        tags={
            "external_credit_score": router_pb2.TagValue(int_value=int(a.score)),
            "age": router_pb2.TagValue(int_value=a.age or 30),
            "region": router_pb2.TagValue(string_value=a.region),
        },
        requested_amount=types_pb2.Money(fen=a.requested_amount_fen),
        term_months=a.term_months,
    )


def sim(pid: str, **kwargs: Any) -> SimPartner:
    settings: dict[str, Any] = {"id": pid, "bid_fen": 3000, "bid_spread": 0.0, "accept_rate": 1.0, "latency_ms": 0}
    settings.update(kwargs)
    return SimPartner(**settings)
