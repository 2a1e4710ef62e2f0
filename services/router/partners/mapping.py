"""The partner layer's stored rows and figures as skylane.router.v1 LeadService messages."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from google.protobuf import timestamp_pb2

from services.router.partners import store
from services.router.partners.service.reports import PartnerReport
from skylane.common.v1 import types_pb2
from skylane.router.v1 import leads_pb2


def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    if value is not None:
        ts.FromDatetime(value)
    return ts


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; 0 for no data."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = max(0, math.ceil(q * len(ordered)) - 1)
    return round(ordered[index], 3)


def ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def trace_proto(lead: Any, deliveries: Iterable[Any]) -> leads_pb2.LeadTrace:
    entries = [
        leads_pb2.LeadTraceEntry(
            partner_id=e.partner_id,
            status=e.status,
            detail=e.detail,
            bid=types_pb2.Money(fen=e.bid_fen),
            latency_ms=e.latency_ms,
            expected_value_fen=e.expected_value_fen,
            rank=e.rank,
        )
        for e in store.trace_from_json(lead.trace)
    ]
    return leads_pb2.LeadTrace(
        lead_id=lead.lead_id,
        decision_id=lead.decision_id,
        tier=lead.tier,
        source_channel=lead.source_channel,
        policy=lead.policy,
        config_version=lead.config_version,
        status=lead.status,
        partner_id=lead.partner_id or "",
        outcome=lead.outcome,
        entries=entries,
        deliveries=[
            leads_pb2.LeadDeliveryInfo(
                delivery_id=d.delivery_id,
                partner_id=d.partner_id,
                status=d.status,
                attempts=d.attempts,
                last_error=d.last_error,
                price=types_pb2.Money(fen=d.price_fen),
            )
            for d in deliveries
        ],
        created_at=timestamp(lead.created_at),
    )


def dead_letters_proto(rows: Iterable[Any], next_page_token: str) -> leads_pb2.ListDeadLettersResponse:
    return leads_pb2.ListDeadLettersResponse(
        dead_letters=[
            leads_pb2.DeadLetter(
                delivery_id=r.delivery_id,
                lead_id=r.lead_id,
                partner_id=r.partner_id,
                attempts=r.attempts,
                last_error=r.last_error,
                dead_at=timestamp(r.dead_at),
            )
            for r in rows
        ],
        page=types_pb2.PageInfo(next_page_token=next_page_token),
    )


def _report_row(report: PartnerReport, pid: str) -> leads_pb2.PartnerReportRow:
    f, book = report.figures[pid], report.book
    posts = f.delivered + f.rejected
    tiers = sorted({t for (p, t) in book.counts if p == pid})
    return leads_pb2.PartnerReportRow(
        partner_id=pid,
        pings=f.pings,
        ping_response_rate=ratio(f.answered, f.pings),
        bid_rate=ratio(f.bids, f.pings),
        win_rate=ratio(f.wins, f.bids),
        post_acceptance_rate=ratio(f.delivered, posts),
        funded_rate=ratio(f.funded, f.accepted_leads),
        revenue_per_lead_fen=round(f.revenue_fen / f.accepted_leads, 2) if f.accepted_leads else 0.0,
        p50_latency_ms=percentile(f.latencies or [], 0.5),
        p99_latency_ms=percentile(f.latencies or [], 0.99),
        returns=f.returns,
        accepted_leads=f.accepted_leads,
        accept_estimate={t: round(book.get(pid, t).mean_accept(), 4) for t in tiers},
        fund_estimate={t: round(book.get(pid, t).mean_fund(), 4) for t in tiers},
        circuit=report.circuits[pid],
    )


def partner_report_proto(report: PartnerReport) -> leads_pb2.GetPartnerReportResponse:
    return leads_pb2.GetPartnerReportResponse(partners=[_report_row(report, pid) for pid in report.partner_ids])
