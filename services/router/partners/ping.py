"""Ping fan-out: ask every eligible partner for a bid in parallel, never waiting past the budget.

Each partner gets its own deadline (its ping timeout, clipped to what is left of the total budget);
whatever has not answered when the budget runs out is cancelled and counts as TIMEOUT. Errors and
garbage answers count as no bid (ERROR) and never fail the applicant's call. With tracing on, each ping
is a client span (services/common/tracing.py) whose `traceparent` goes to the partner with the request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import grpc

from services.common.tracing import client_span
from services.router.partners.channels import PartnerChannels
from services.router.partners.config import Partner
from services.router.partners.domain import BID, ERROR, NO_BID, TIMEOUT, PingResult
from skylane.common.v1 import types_pb2
from skylane.partner.v1 import partner_pb2

PING = f"/{partner_pb2.DESCRIPTOR.services_by_name['PartnerService'].full_name}/Ping"
_MAX_SANE_BID_FEN = 10_000_000  # 100,000 yuan for one lead: anything above is a broken partner


async def ping_all(
    channels: PartnerChannels,
    partners: Sequence[Partner],
    ping_id: str,
    applicant: partner_pb2.MaskedApplicant,
    budget_ms: int,
) -> list[PingResult]:
    """One PingResult per partner, in the order given, within budget_ms of wall time."""
    if not partners:
        return []
    started = time.perf_counter()
    request = partner_pb2.PingRequest(ping_id=ping_id, applicant=applicant)
    tasks = [
        asyncio.ensure_future(_ping_one(channels, p, request, min(p.ping_timeout_ms, budget_ms) / 1000, started))
        for p in partners
    ]
    done, pending = await asyncio.wait(tasks, timeout=budget_ms / 1000)
    for task in pending:
        task.cancel()
    results = []
    for partner, task in zip(partners, tasks, strict=True):
        if task in done and not task.cancelled() and task.exception() is None:
            results.append(task.result())
        else:
            elapsed = (time.perf_counter() - started) * 1000
            results.append(
                PingResult(partner.id, TIMEOUT, latency_ms=round(elapsed, 3), detail="total ping budget spent")
            )
    return results


async def _ping_one(
    channels: PartnerChannels, partner: Partner, request: partner_pb2.PingRequest, deadline_s: float, started: float
) -> PingResult:
    # A client span when tracing is on (a cancelled ping, past the budget, ends it as CANCELLED).
    with client_span("router", PING, partner=partner.id) as span:
        try:
            answer = await channels.stub(partner).Ping(request, timeout=deadline_s, metadata=span.metadata or None)
        except grpc.aio.AioRpcError as err:
            span.set_status(err.code().name)
            latency = round((time.perf_counter() - started) * 1000, 3)
            if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return PingResult(
                    partner.id, TIMEOUT, latency_ms=latency, detail=f"no answer within {partner.ping_timeout_ms} ms"
                )
            return PingResult(partner.id, ERROR, latency_ms=latency, detail=f"partner error {err.code().name}")
        span.set_status("OK")
    latency = round((time.perf_counter() - started) * 1000, 3)
    return interpret(partner.id, answer, latency)


def interpret(partner_id: str, answer: partner_pb2.PingResponse, latency_ms: float) -> PingResult:
    """Turns a ping answer into a result; nonsense (negative or absurd bids) is an ERROR, not a bid."""
    bid = answer.bid.fen
    if bid < 0 or bid > _MAX_SANE_BID_FEN or (not answer.bid_offered and bid != 0):
        return PingResult(partner_id, ERROR, latency_ms=latency_ms, detail="garbage answer")
    if answer.known_applicant:
        return PingResult(partner_id, NO_BID, bid, known=True, latency_ms=latency_ms)
    if not answer.bid_offered:
        return PingResult(partner_id, NO_BID, latency_ms=latency_ms)
    return PingResult(partner_id, BID, bid, latency_ms=latency_ms)


def money(fen: int) -> types_pb2.Money:
    return types_pb2.Money(fen=fen)
