"""Idempotent RouteApplicant: a retry with the same key gets the first decision; another request under it is refused."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget, error_reason
from tests.router.helpers import START, ops, request, router, stub, window


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
