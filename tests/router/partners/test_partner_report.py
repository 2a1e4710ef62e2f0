"""GetPartnerReport: ping response, bid and win rates and latency percentiles per partner; unknown partner."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from skylane.router.v1 import leads_pb2
from tests.helpers import DbTarget
from tests.router.partners.helpers import Stack, applicant, partner_stack, sim


async def posted_lead(stack: Stack, tier: str = "near_prime") -> str:
    result = await stack.route(applicant(tier))
    await stack.drain()
    return result.lead_id


async def test_partner_report_figures(db_target: DbTarget, tmp_path: Path) -> None:
    sims = [sim("alpha", bid_fen=4000), sim("silent", bid_rate=0.0), sim("broken", failure="error")]
    async with partner_stack(db_target, tmp_path, sims) as stack:
        for _ in range(3):
            await posted_lead(stack)
        report = {
            r.partner_id: r for r in (await stack.leads.GetPartnerReport(leads_pb2.GetPartnerReportRequest())).partners
        }
        alpha, silent, broken = report["alpha"], report["silent"], report["broken"]
        assert (alpha.pings, alpha.ping_response_rate, alpha.bid_rate, alpha.win_rate) == (3, 1.0, 1.0, 1.0)
        assert (silent.pings, silent.ping_response_rate, silent.bid_rate, silent.win_rate) == (3, 1.0, 0.0, 0.0)
        assert (broken.pings, broken.ping_response_rate) == (3, 0.0)
        assert alpha.p99_latency_ms >= alpha.p50_latency_ms > 0
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stack.leads.GetPartnerReport(leads_pb2.GetPartnerReportRequest(partner_id="ghost"))
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
