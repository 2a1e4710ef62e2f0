"""Ping fan-out: ask every eligible partner for a bid in parallel, never waiting past the budget.

Each partner gets its own deadline (its ping timeout, clipped to what is left of the total budget);
whatever has not answered when the budget runs out is cancelled and counts as TIMEOUT. Errors and
garbage answers count as no bid (ERROR) and never fail the applicant's call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import grpc
import structlog

from services.common.tls import TlsError, channel_credentials
from services.router.partners.config import Partner, PartnerTls
from services.router.partners.domain import BID, ERROR, NO_BID, TIMEOUT, PingResult
from skylane.common.v1 import types_pb2
from skylane.partner.v1 import partner_pb2, partner_pb2_grpc

log = structlog.get_logger("skylane.router.partners")

_MAX_SANE_BID_FEN = 10_000_000  # 100,000 yuan for one lead: anything above is a broken partner
_CHANNEL_OPTIONS = [("grpc.enable_retries", 0)]


class PartnerChannels:
    """One long-lived channel per partner endpoint and TLS settings, reused by pings and posts."""

    def __init__(self) -> None:
        # Keyed by the TLS settings too, so a reload that turns TLS on (or changes its files) gets a new
        # channel instead of reusing the plaintext one; the old channel is only closed at close().
        self._channels: dict[tuple[str, PartnerTls | None], grpc.aio.Channel] = {}

    def stub(self, partner: Partner) -> partner_pb2_grpc.PartnerServiceStub:
        key = (partner.endpoint, partner.tls)
        channel = self._channels.get(key)
        if channel is None:
            channel = self._open(partner)
            self._channels[key] = channel
        return partner_pb2_grpc.PartnerServiceStub(channel)

    @staticmethod
    def _open(partner: Partner) -> grpc.aio.Channel:
        if partner.tls is None:
            return grpc.aio.insecure_channel(partner.endpoint, options=_CHANNEL_OPTIONS)
        try:
            credentials = channel_credentials(partner.tls.files())
        except TlsError as exc:
            # The files were readable when the config loaded; one that vanished since (a botched cert
            # rotation) fails this call like an unreachable partner — never plaintext — so pings count
            # it as ERROR and posts retry with backoff behind the breaker, instead of an exception
            # escaping the callers. Nothing is cached, so the next call tries the files again.
            log.error("partner_tls_files_unusable", partner=partner.id, error=str(exc))
            raise grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, details=f"TLS files unusable: {exc}") from exc
        return grpc.aio.secure_channel(partner.endpoint, credentials, options=_CHANNEL_OPTIONS)

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()


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
    try:
        answer = await channels.stub(partner).Ping(request, timeout=deadline_s)
    except grpc.aio.AioRpcError as err:
        latency = round((time.perf_counter() - started) * 1000, 3)
        if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return PingResult(
                partner.id, TIMEOUT, latency_ms=latency, detail=f"no answer within {partner.ping_timeout_ms} ms"
            )
        return PingResult(partner.id, ERROR, latency_ms=latency, detail=f"partner error {err.code().name}")
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
