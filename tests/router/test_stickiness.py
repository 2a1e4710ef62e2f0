"""Stickiness: the same applicant inside the window gets the same decision back and is counted once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget
from tests.router.helpers import START, ops, request, router, stub, window


async def test_same_applicant_within_the_window_gets_the_same_decision_and_is_counted_once(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with router(db_target, tmp_path, stickiness_hours=2) as h:
        route = stub(h).RouteApplicant
        first = await route(request(1, score=650))
        assert (first.tier, first.sticky) == ("near_prime", False)
        h.clock.advance(minutes=90)
        # Different channel, different tags: still the same decision inside the window.
        again = await route(request(1, score=800, channel="sms_landing", scenario="campaign"))
        assert again.sticky and again.decision_id == first.decision_id
        assert (again.tier, again.score, again.destination) == (first.tier, first.score, first.destination)
        # Concurrent duplicates of a new applicant collapse onto one decision too.
        burst = await asyncio.gather(*(route(request(2)) for _ in range(6)))
        assert len({d.decision_id for d in burst}) == 1 and sum(not d.sticky for d in burst) == 1

        h.clock.advance(minutes=31)  # the window (2 h) has passed for applicant 1
        later = await route(request(1, score=800))
        assert (later.sticky, later.tier) == (False, "prime") and later.decision_id != first.decision_id

        report = await ops(h).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=window(START, START + timedelta(days=1)))
        )
        assert report.total == 3 and report.sticky_repeats == 6
        assert {c.key: c.count for c in report.by_tier} == {"near_prime": 1, "prime": 2}
