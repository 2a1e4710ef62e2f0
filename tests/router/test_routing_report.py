"""GetRoutingReport: counts and shares by tier, destination, channel and local day, and capacity used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget, field_violations
from tests.router.helpers import START, ops, request, router, stub, window

LAST_DAY = datetime(9999, 12, 31, tzinfo=UTC)
FIRST_DAY = datetime(1, 1, 1, tzinfo=UTC)
# Windows whose ends have no local day in some time zone: the router's (Asia/Shanghai, +08:00) runs past
# year 9999 from 9999-12-31T16:00Z on, and a zone west of UTC runs before year 1.
NO_LOCAL_DAY = [
    ((LAST_DAY - timedelta(days=1), datetime.max.replace(tzinfo=UTC)), {"window.end"}),
    ((LAST_DAY + timedelta(hours=15), LAST_DAY + timedelta(hours=16, minutes=30)), {"window.end"}),
    ((LAST_DAY - timedelta(days=1), LAST_DAY + timedelta(microseconds=1)), {"window.end"}),
    ((FIRST_DAY, FIRST_DAY + timedelta(days=1)), {"window.start"}),
    ((FIRST_DAY, LAST_DAY + timedelta(hours=20)), {"window.start", "window.end"}),
]
# The outermost windows that have: a day inside datetime's range at either end.
EDGE_WINDOWS = [
    (LAST_DAY - timedelta(days=1), LAST_DAY),
    (FIRST_DAY + timedelta(days=1), FIRST_DAY + timedelta(days=2)),
]


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


async def test_a_window_without_local_days_is_refused_by_name(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path) as h:
        for (start, end), fields in NO_LOCAL_DAY:
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await ops(h).GetRoutingReport(router_pb2.GetRoutingReportRequest(window=window(start, end)))
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (start, end)
            assert set(field_violations(bad.value)) == fields, (start, end)
        for start, end in EDGE_WINDOWS:
            report = await ops(h).GetRoutingReport(router_pb2.GetRoutingReportRequest(window=window(start, end)))
            assert report.total == 0 and not report.by_day
