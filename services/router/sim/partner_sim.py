"""`skylane partner-sim`: a reference partner lender implementing skylane.partner.v1.

Bids, acceptance and funding follow the scenario's true rates; latency and failure modes (errors,
hangs, garbage answers, down for a period) are configurable and can be flipped at run time by tests.
Posts are deduplicated by lead id, as the contract asks of every partner; accepted leads can be
reported back to the router through LeadService.ReportLeadOutcome.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field

import grpc
import structlog

from services.common.hashing import stable_unit
from services.common.ports import bind_grpc, port_options
from services.router.partners.estimates import amount_band
from services.router.sim.scenario import SimPartner, effect, rate_for, sim_ping, with_odds
from skylane.common.v1 import types_pb2
from skylane.partner.v1 import partner_pb2, partner_pb2_grpc

log = structlog.get_logger("skylane.partner_sim")


@dataclass
class SimRecord:
    """What the simulated partner saw: for tests and the end-of-run summary."""

    ping_calls: int = 0
    post_calls: int = 0
    posts: dict[str, partner_pb2.PostResponse] = field(default_factory=dict)
    post_requests: dict[str, partner_pb2.PostRequest] = field(default_factory=dict)
    postbacks: int = 0


class PartnerSim(partner_pb2_grpc.PartnerServiceServicer):
    def __init__(self, spec: SimPartner, *, seed: int = 7, router: str = "") -> None:
        self.spec = spec
        self.seed = seed
        self.mode = spec.failure  # tests may flip it: none, error, hang, garbage, down
        self.latency_ms = spec.latency_ms
        # Delay after a post is processed and before it is answered: the "answer lost on the way" case.
        self.post_answer_delay_ms = 0.0
        self.rng = random.Random(f"{seed}:{spec.id}")
        self.record = SimRecord()
        self.router = router
        self._started = time.monotonic()
        self._tasks: set[asyncio.Task[None]] = set()

    def _down(self) -> bool:
        if self.mode == "down":
            return True
        return time.monotonic() - self._started < self.spec.down_seconds

    async def _misbehave(self, context: grpc.aio.ServicerContext) -> None:
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        if self._down():
            await context.abort(grpc.StatusCode.UNAVAILABLE, "partner is down")
        if self.mode == "error":
            await context.abort(grpc.StatusCode.INTERNAL, "simulated partner error")
        if self.mode == "hang":
            await asyncio.sleep(3600)

    async def Ping(
        self, request: partner_pb2.PingRequest, context: grpc.aio.ServicerContext
    ) -> partner_pb2.PingResponse:
        self.record.ping_calls += 1
        await self._misbehave(context)
        if self.mode == "garbage":
            return partner_pb2.PingResponse(bid_offered=True, bid=types_pb2.Money(fen=-42))
        offered, bid, known = sim_ping(self.spec, request.applicant.tier, self.rng)
        return partner_pb2.PingResponse(bid_offered=offered, bid=types_pb2.Money(fen=bid), known_applicant=known)

    async def Post(
        self, request: partner_pb2.PostRequest, context: grpc.aio.ServicerContext
    ) -> partner_pb2.PostResponse:
        self.record.post_calls += 1
        await self._misbehave(context)
        seen = self.record.posts.get(request.lead_id)
        if seen is not None:  # dedupe on the lead id: a retried post gets the first answer
            return seen
        tier = request.applicant.tier
        features = _features(request.applicant, request.source_channel)
        # The verdict is a pure function of the lead id, so it is the same on every retry and every run.
        accepted = stable_unit(str(self.seed), self.spec.id, "accept", request.lead_id) < with_odds(
            rate_for(self.spec.accept_rate, tier), effect(self.spec.accept_effects, features)
        )
        if accepted:
            answer = partner_pb2.PostResponse(
                result=partner_pb2.PostResponse.ACCEPTED,
                partner_reference=f"{self.spec.id}-{len(self.record.posts) + 1}",
            )
        else:
            answer = partner_pb2.PostResponse(result=partner_pb2.PostResponse.REJECTED, reason="NOT_INTERESTED")
        self.record.posts[request.lead_id] = answer
        self.record.post_requests[request.lead_id] = request
        if accepted and self.router and self.spec.token:
            task = asyncio.create_task(self._postback(request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self.post_answer_delay_ms:
            await asyncio.sleep(self.post_answer_delay_ms / 1000)
        return answer

    def accepted_leads(self) -> list[str]:
        return [k for k, v in self.record.posts.items() if v.result == partner_pb2.PostResponse.ACCEPTED]

    async def _postback(self, request: partner_pb2.PostRequest) -> None:
        from skylane.router.v1 import leads_pb2, leads_pb2_grpc

        await asyncio.sleep(self.spec.postback_delay_ms / 1000)
        funded = stable_unit(str(self.seed), self.spec.id, "fund", request.lead_id) < with_odds(
            rate_for(self.spec.fund_rate, request.applicant.tier),
            effect(self.spec.fund_effects, _features(request.applicant, request.source_channel)),
        )
        outcome = leads_pb2.LEAD_OUTCOME_FUNDED if funded else leads_pb2.LEAD_OUTCOME_REJECTED
        amount = request.applicant.requested_amount.fen if funded else 0
        report = leads_pb2.ReportLeadOutcomeRequest(
            idempotency_key=types_pb2.IdempotencyKey(value=f"{self.spec.id}:{request.lead_id}:{outcome}"),
            lead_id=request.lead_id,
            partner_id=self.spec.id,
            outcome=outcome,
            funded_amount=types_pb2.Money(fen=amount),
        )
        # A report can overtake the router's record of the acceptance (FAILED_PRECONDITION): a real partner
        # retries it after a moment, and so does the simulator.
        for attempt in range(6):
            try:
                async with grpc.aio.insecure_channel(self.router) as channel:
                    await leads_pb2_grpc.LeadServiceStub(channel).ReportLeadOutcome(
                        report, metadata=(("authorization", f"Bearer {self.spec.token}"),), timeout=5
                    )
                self.record.postbacks += 1
                return
            except grpc.aio.AioRpcError as err:
                if err.code() != grpc.StatusCode.FAILED_PRECONDITION or attempt == 5:
                    log.warning("postback_failed", partner=self.spec.id, lead_id=request.lead_id, code=err.code().name)
                    return
                await asyncio.sleep(0.05 * 2**attempt)


def _features(a: partner_pb2.MaskedApplicant, channel: str) -> dict[str, str]:
    """The scenario's feature groups, from what the partner is shown (effects apply as in the simulator;
    schedules and funding delays are the simulator's only)."""
    return {
        "tier": a.tier,
        "score": a.score_band,
        "amount": amount_band(a.requested_amount.fen),
        "region": a.region,
        "channel": channel,
        "age": a.age_band,
    }


@dataclass
class RunningSim:
    sim: PartnerSim
    server: grpc.aio.Server
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


async def start_sim(spec: SimPartner, *, host: str = "127.0.0.1", seed: int = 7, router: str = "") -> RunningSim:
    sim = PartnerSim(spec, seed=seed, router=router)
    server = grpc.aio.server(options=port_options(False))  # a taken port is refused, never shared
    partner_pb2_grpc.add_PartnerServiceServicer_to_server(sim, server)
    port = bind_grpc(server, host, spec.port, what="partner")
    await server.start()
    return RunningSim(sim, server, port)


async def stop_sims(sims: list[RunningSim]) -> None:
    for running in sims:
        await running.server.stop(0)
