"""GetRoutingReport: counts and shares by tier, destination, channel and local day, and capacity used."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget
from tests.router.helpers import START, ops, request, router, stub, window


async def test_report_counts_and_shares_by_tier_destination_channel_and_day(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with router(db_target, tmp_path, cap=1) as h:
        route = stub(h).RouteApplicant
        await route(request(1, score=720))  # prime, in-house (uses the only slot)
        await route(request(2, score=720))  # prime, overflow to pool
        await route(request(3, score=610, channel="sms_landing", scenario="campaign"))  # near_prime, pool
        h.clock.advance(hours=8)  # next local day
        await route(request(4, score=100))  # declined
        report = await ops(h).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=window(START, START + timedelta(days=1)))
        )
        assert report.total == 4
        assert [(c.key, c.count, c.share) for c in report.by_destination] == [
            ("PARTNER_POOL", 2, 0.5),
            ("DECLINED", 1, 0.25),
            ("IN_HOUSE", 1, 0.25),
        ]
        assert {c.key: c.count for c in report.by_tier} == {"prime": 2, "near_prime": 1, "declined": 1}
        assert {c.key: c.count for c in report.by_channel} == {"ceair_app": 3, "sms_landing": 1}
        assert [(c.key, c.count) for c in report.by_day] == [("2026-01-05", 3), ("2026-01-06", 1)]
        assert [(c.day, c.product_id, c.used, c.cap) for c in report.capacity] == [("2026-01-05", "travel_loan", 1, 1)]
