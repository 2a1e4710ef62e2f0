"""gRPC servicer of skylane.router.v1.LeadService: partner postbacks and the ops views of leads."""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence

import grpc
from google.protobuf import timestamp_pb2

from services.common.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    Unauthenticated,
    Violations,
)
from services.common.idempotency import IdempotencyStore
from services.common.validation import check_idempotency_key, page_size
from services.router.partners import outcomes, store
from services.router.partners.desk import PartnerDesk
from skylane.common.v1 import types_pb2
from skylane.router.v1 import leads_pb2, leads_pb2_grpc


def _ts(value: object) -> timestamp_pb2.Timestamp:
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


class LeadServicer(leads_pb2_grpc.LeadServiceServicer):
    def __init__(self, desk: PartnerDesk, idempotency: IdempotencyStore) -> None:
        self.desk, self.idempotency = desk, idempotency

    # --- partner postbacks -------------------------------------------------------------------------

    def _authenticate(self, context: grpc.aio.ServicerContext) -> str:
        header = next((v for k, v in context.invocation_metadata() or () if k == "authorization"), "")
        scheme, _, token = str(header).partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated(
                "postbacks need `authorization: Bearer <partner token>`", reason="MISSING_CREDENTIALS"
            )
        partner_id = self.desk.partner_for_token(token.strip())
        if partner_id is None:
            raise Unauthenticated("unknown partner token", reason="BAD_CREDENTIALS")
        return partner_id

    async def ReportLeadOutcome(
        self, request: leads_pb2.ReportLeadOutcomeRequest, context: grpc.aio.ServicerContext
    ) -> leads_pb2.ReportLeadOutcomeResponse:
        caller = self._authenticate(context)
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        v.check(bool(request.lead_id), "lead_id", "required")
        v.check(bool(request.partner_id), "partner_id", "required")
        known = request.outcome in (
            outcomes.ACCEPTED,
            outcomes.APPROVED,
            outcomes.FUNDED,
            outcomes.REJECTED,
            outcomes.RETURNED,
        )
        v.check(known, "outcome", "must be ACCEPTED, APPROVED, FUNDED, REJECTED or RETURNED")
        if request.outcome == outcomes.FUNDED:
            v.check(request.funded_amount.fen > 0, "funded_amount.fen", "must be more than zero for FUNDED")
        elif request.funded_amount.fen != 0:
            v.add("funded_amount.fen", "only allowed with FUNDED")
        if request.outcome == outcomes.RETURNED:
            v.check(bool(request.reason.strip()), "reason", "required for RETURNED")
        v.check(len(request.reason) <= 120, "reason", "at most 120 characters")
        v.raise_if_any()
        if request.partner_id not in self.desk.config.by_id():
            raise NotFound("partner", request.partner_id)
        if request.partner_id != caller:
            raise PermissionDenied("the token belongs to another partner", reason="PARTNER_MISMATCH")

        learned: list[outcomes.Learning] = []
        tier = ""

        async def handler() -> leads_pb2.ReportLeadOutcomeResponse:
            nonlocal tier
            desk = self.desk
            lead = await store.load_lead(session, request.lead_id, for_update=desk.db.dialect == "postgresql")
            if lead is None:
                raise NotFound("lead", request.lead_id)
            if lead.partner_id != caller:
                raise PermissionDenied(f"lead {request.lead_id} is not a lead of {caller}", reason="NOT_YOUR_LEAD")
            if lead.status != store.POSTED:
                raise FailedPrecondition(
                    "LEAD_NOT_ACCEPTED",
                    "the post of this lead has not been recorded as accepted yet",
                    subject=lead.lead_id,
                )
            if request.outcome == outcomes.FUNDED and request.funded_amount.fen > lead.requested_amount_fen:
                raise InvalidArgument(
                    [FieldViolation("funded_amount.fen", f"above the requested amount {lead.requested_amount_fen} fen")]
                )
            if not outcomes.moves_forward(lead.outcome, request.outcome):
                raise FailedPrecondition(
                    "OUTCOME_NOT_FORWARD",
                    f"outcome {leads_pb2.LeadOutcomeKind.Name(request.outcome)} cannot follow "
                    f"{leads_pb2.LeadOutcomeKind.Name(lead.outcome)}",
                    subject=lead.lead_id,
                )
            if request.outcome == outcomes.RETURNED and not await store.count_return(
                session, caller, desk.config.max_return_share
            ):
                raise QuotaExceeded(
                    "RETURN_SHARE_EXCEEDED",
                    f"returns are limited to {desk.config.max_return_share:.0%} of accepted leads",
                    subject=caller,
                )
            change = outcomes.learning(lead.outcome, request.outcome)
            if change.fund_s or change.fund_f:
                await store.bump_estimate(
                    session, desk.db.dialect, caller, lead.tier, fund_s=change.fund_s, fund_f=change.fund_f
                )
            now = desk.clock.now()
            await store.update_lead(
                session,
                lead.lead_id,
                outcome=request.outcome,
                funded_amount_fen=request.funded_amount.fen
                if request.outcome == outcomes.FUNDED
                else lead.funded_amount_fen,
                outcome_reason=request.reason,
                updated_at=now,
            )
            learned.append(change)
            tier = lead.tier
            return leads_pb2.ReportLeadOutcomeResponse(lead_id=lead.lead_id, outcome=request.outcome)

        async with self.desk.db.transaction() as session:
            response = await self.idempotency.run(
                session, "LeadService.ReportLeadOutcome", request, leads_pb2.ReportLeadOutcomeResponse, handler
            )
        for change in learned:  # only when this call made the change (not an idempotent replay)
            self.desk.estimates.add(caller, tier, fund_s=change.fund_s, fund_f=change.fund_f)
        return response

    # --- ops views ---------------------------------------------------------------------------------

    async def GetLeadTrace(
        self, request: leads_pb2.GetLeadTraceRequest, context: grpc.aio.ServicerContext
    ) -> leads_pb2.LeadTrace:
        if not request.lead_id:
            raise InvalidArgument([FieldViolation("lead_id", "required")])
        async with self.desk.db.read() as session:
            lead = await store.load_lead(session, request.lead_id)
            if lead is None:
                raise NotFound("lead", request.lead_id)
            deliveries = await store.deliveries_of(session, request.lead_id)
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
            created_at=_ts(lead.created_at),
        )

    async def ListDeadLetters(
        self, request: leads_pb2.ListDeadLettersRequest, context: grpc.aio.ServicerContext
    ) -> leads_pb2.ListDeadLettersResponse:
        size = page_size(request.page.page_size)
        try:
            after = (
                base64.urlsafe_b64decode(request.page.page_token.encode()).decode() if request.page.page_token else ""
            )
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgument([FieldViolation("page.page_token", "not a token this server issued")]) from None
        async with self.desk.db.read() as session:
            rows = await store.dead_letters(session, request.partner_id, after, size + 1)
        more, rows = len(rows) > size, rows[:size]
        token = base64.urlsafe_b64encode(rows[-1].delivery_id.encode()).decode() if more and rows else ""
        return leads_pb2.ListDeadLettersResponse(
            dead_letters=[
                leads_pb2.DeadLetter(
                    delivery_id=r.delivery_id,
                    lead_id=r.lead_id,
                    partner_id=r.partner_id,
                    attempts=r.attempts,
                    last_error=r.last_error,
                    dead_at=_ts(r.dead_at),
                )
                for r in rows
            ],
            page=types_pb2.PageInfo(next_page_token=token),
        )

    async def ReplayDeadLetter(
        self, request: leads_pb2.ReplayDeadLetterRequest, context: grpc.aio.ServicerContext
    ) -> leads_pb2.ReplayDeadLetterResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        v.check(bool(request.delivery_id), "delivery_id", "required")
        v.raise_if_any()

        async def handler() -> leads_pb2.ReplayDeadLetterResponse:
            if not await store.replay(session, request.delivery_id, self.desk.clock.now()):
                status = await store.delivery_exists(session, request.delivery_id)
                if status is None:
                    raise NotFound("delivery", request.delivery_id)
                raise FailedPrecondition(
                    "NOT_DEAD_LETTER", f"delivery is {status}, not a dead letter", subject=request.delivery_id
                )
            return leads_pb2.ReplayDeadLetterResponse(delivery_id=request.delivery_id, status=store.PENDING)

        async with self.desk.db.transaction() as session:
            return await self.idempotency.run(
                session, "LeadService.ReplayDeadLetter", request, leads_pb2.ReplayDeadLetterResponse, handler
            )

    async def GetPartnerReport(
        self, request: leads_pb2.GetPartnerReportRequest, context: grpc.aio.ServicerContext
    ) -> leads_pb2.GetPartnerReportResponse:
        config = self.desk.config
        ids = [p.id for p in config.lenders]
        if request.partner_id:
            if request.partner_id not in ids:
                raise NotFound("partner", request.partner_id)
            ids = [request.partner_id]
        async with self.desk.db.report() as session:
            figures = await store.partner_figures(session, ids)
            book = await store.load_estimates(session)
        now = self.desk.clock.now()
        rows = []
        for pid in ids:
            f = figures[pid]
            posts = f.delivered + f.rejected
            tiers = sorted({t for (p, t) in book.counts if p == pid})
            rows.append(
                leads_pb2.PartnerReportRow(
                    partner_id=pid,
                    pings=f.pings,
                    ping_response_rate=_ratio(f.answered, f.pings),
                    bid_rate=_ratio(f.bids, f.pings),
                    win_rate=_ratio(f.wins, f.bids),
                    post_acceptance_rate=_ratio(f.delivered, posts),
                    funded_rate=_ratio(f.funded, f.accepted_leads),
                    revenue_per_lead_fen=round(f.revenue_fen / f.accepted_leads, 2) if f.accepted_leads else 0.0,
                    p50_latency_ms=percentile(f.latencies or [], 0.5),
                    p99_latency_ms=percentile(f.latencies or [], 0.99),
                    returns=f.returns,
                    accepted_leads=f.accepted_leads,
                    accept_estimate={t: round(book.get(pid, t).mean_accept(), 4) for t in tiers},
                    fund_estimate={t: round(book.get(pid, t).mean_fund(), 4) for t in tiers},
                    circuit=self.desk.breaker.state(pid, now),
                )
            )
        return leads_pb2.GetPartnerReportResponse(partners=rows)


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0
