"""In-house capacity at exactly the cap under concurrency, stickiness, idempotent retries, reports."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from skylane.router.v1 import router_pb2
from tests.router.helpers import IN_HOUSE, POOL, START, codes, ops, request, router, stub, window
from tests.support import DbTarget, error_reason


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


async def test_retry_with_the_same_key_returns_the_first_decision(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as h:
        route = stub(h).RouteApplicant
        first = await route(request(1, idem="retry-key-1"))
        h.clock.advance(minutes=5)
        retried = await asyncio.gather(*(route(request(1, idem="retry-key-1")) for _ in range(3)))
        assert all(r == first for r in retried)
        with pytest.raises(grpc.aio.AioRpcError) as reused:
            await route(request(1, score=640, idem="retry-key-1"))
        assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert error_reason(reused.value) == "IDEMPOTENCY_KEY_REUSED"
        recorded = await stub(h).GetDecision(router_pb2.GetDecisionRequest(decision_id=first.decision_id))
        assert recorded.decision == first
        assert '"external_credit_score": 720' in recorded.inputs_json and "applicant-" not in recorded.inputs_json
        report = await ops(h).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=window(START, START + timedelta(days=1)))
        )
        assert report.total == 1


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
