"""In-house capacity: exactly the cap under concurrent requests, per local day, overflow to the pool."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget
from tests.router.helpers import IN_HOUSE, POOL, START, codes, ops, request, router, stub, window


async def test_capacity_overflows_to_the_pool_at_exactly_the_cap_across_concurrent_requests(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with router(db_target, tmp_path, cap=7) as h:
        decisions = await asyncio.gather(*(stub(h).RouteApplicant(request(n)) for n in range(30)))
        in_house = [d for d in decisions if d.destination == IN_HOUSE]
        overflow = [d for d in decisions if d.destination == POOL]
        assert (len(in_house), len(overflow)) == (7, 23)
        assert all(d.tier == "prime" and codes(d)[-1] == "IN_HOUSE_CAPACITY_EXHAUSTED" for d in overflow)

        # A second concurrent wave the same local day gets no in-house slot at all.
        more = await asyncio.gather(*(stub(h).RouteApplicant(request(100 + n)) for n in range(5)))
        assert all(d.destination == POOL for d in more)

        # The cap is per local day in Asia/Shanghai: 17:00 local + 7 h = the next local day.
        h.clock.advance(hours=7)
        fresh = await asyncio.gather(*(stub(h).RouteApplicant(request(200 + n)) for n in range(9)))
        assert sum(d.destination == IN_HOUSE for d in fresh) == 7

        report = await ops(h).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=window(START - timedelta(days=1), START + timedelta(days=2)))
        )
        assert [(c.day, c.used, c.cap) for c in report.capacity] == [("2026-01-05", 7, 7), ("2026-01-06", 7, 7)]
