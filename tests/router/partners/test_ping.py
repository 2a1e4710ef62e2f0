"""Ping fan-out against real partner-sim servers that bid, hang, error and answer garbage."""

from __future__ import annotations

import time

from services.router.partners.config import Partner
from services.router.partners.domain import BID, ERROR, NO_BID, TIMEOUT
from services.router.partners.ping import PartnerChannels, ping_all
from services.router.sim.partner_sim import start_sim, stop_sims
from skylane.partner.v1 import partner_pb2
from tests.router.partners.helpers import sim


async def test_fan_out_is_parallel_and_bounded_by_timeouts_and_budget() -> None:
    specs = [
        sim("bids", bid_fen=3000, latency_ms=50),
        sim("hangs", failure="hang"),
        sim("slow", latency_ms=300),
        sim("errs", failure="error"),
        sim("junk", failure="garbage"),
        sim("shy", bid_rate=0.0),
    ]
    running = [await start_sim(s) for s in specs]
    channels = PartnerChannels()
    timeouts = {"hangs": 5000, "slow": 150}  # slow's own timeout is shorter than its answer
    partners = [
        Partner(
            id=r.sim.spec.id,
            endpoint=r.address,
            tiers=["tail"],
            annual_cost_rate=0.1,
            ping_timeout_ms=timeouts.get(r.sim.spec.id, 500),
        )
        for r in running
    ]
    try:
        started = time.perf_counter()
        results = await ping_all(channels, partners, "lead-1", partner_pb2.MaskedApplicant(tier="tail"), 400)
        elapsed = time.perf_counter() - started
    finally:
        await channels.close()
        await stop_sims(running)
    assert elapsed < 0.4 + 1.0  # the total budget bounds the fan-out, whatever one partner does
    by_id = {r.partner_id: r for r in results}
    assert (by_id["bids"].status, by_id["bids"].bid_fen) == (BID, 3000)
    assert by_id["hangs"].status == TIMEOUT
    assert by_id["slow"].status == TIMEOUT
    assert by_id["errs"].status == ERROR
    assert by_id["junk"].status == ERROR
    assert by_id["shy"].status == NO_BID
    assert by_id["bids"].latency_ms >= 50
