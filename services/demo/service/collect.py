"""After the day: the services' own reports and ops views, read through their ops RPCs — the same calls, and
the same JSON shapes, as `skylane router report`, `router partners report|trace`, `router dead-letters list`
and `rewards report`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import grpc

from services.demo.domain.tally import Tally
from services.demo.service.drive import stamp
from services.rewards.cli import campaign_document
from services.router.partners.cli import lead_trace_document, partner_row
from services.router.sim.partner_sim import RunningSim
from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from skylane.router.v1 import leads_pb2, leads_pb2_grpc, router_pb2, router_pb2_grpc

TIMEOUT_S = 30.0


async def lead_traces(channel: grpc.aio.Channel, tally: Tally) -> list[dict[str, Any]]:
    stub = leads_pb2_grpc.LeadServiceStub(channel)
    traces = []
    for lead in tally.leads:
        trace = await stub.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=lead.lead_id), timeout=TIMEOUT_S)
        traces.append(lead_trace_document(trace))
    return traces


async def partner_rows(channel: grpc.aio.Channel) -> list[dict[str, Any]]:
    reply = await leads_pb2_grpc.LeadServiceStub(channel).GetPartnerReport(
        leads_pb2.GetPartnerReportRequest(), timeout=TIMEOUT_S
    )
    return [partner_row(r) for r in reply.partners]


async def dead_letters(channel: grpc.aio.Channel) -> int:
    page = await leads_pb2_grpc.LeadServiceStub(channel).ListDeadLetters(
        leads_pb2.ListDeadLettersRequest(page=types_pb2.PageRequest(page_size=500)), timeout=TIMEOUT_S
    )
    return len(page.dead_letters)


async def routing_report(channel: grpc.aio.Channel, start: datetime) -> dict[str, Any]:
    window = types_pb2.TimeWindow(start=stamp(start), end=stamp(start + timedelta(days=1)))
    r = await router_pb2_grpc.RouterOpsServiceStub(channel).GetRoutingReport(
        router_pb2.GetRoutingReportRequest(window=window), timeout=TIMEOUT_S
    )
    return {
        "total": r.total,
        "sticky_repeats": r.sticky_repeats,
        "capacity": [{"day": c.day, "product_id": c.product_id, "used": c.used, "cap": c.cap} for c in r.capacity],
    }


async def campaigns(channel: grpc.aio.Channel, ids: list[str]) -> list[dict[str, Any]]:
    stub = rewards_pb2_grpc.RewardsServiceStub(channel)
    reports = []
    for campaign_id in ids:
        report = await stub.GetCampaignReport(
            rewards_pb2.GetCampaignReportRequest(campaign_id=campaign_id), timeout=TIMEOUT_S
        )
        reports.append(campaign_document(report))
    return reports


def sim_counts(sims: list[RunningSim]) -> dict[str, dict[str, int]]:
    return {
        s.sim.spec.id: {
            "pings": s.sim.record.ping_calls,
            "posts": s.sim.record.post_calls,
            "leads": len(s.sim.record.posts),
            "accepted": len(s.sim.accepted_leads()),
            "postbacks": s.sim.record.postbacks,
        }
        for s in sims
    }
