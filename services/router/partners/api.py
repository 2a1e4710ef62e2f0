"""gRPC servicer of skylane.router.v1.LeadService: partner postbacks and the ops views of leads.

Validate, call a use case (partners/service/), map (partners/mapping.py). A postback is authenticated by
its partner's bearer token; the ops methods are limited to ops clients by the server (app.ops_methods).
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import grpc

from services.common.authz import Guard
from services.common.errors import FieldViolation, InvalidArgument, Unauthenticated, Violations
from services.common.request_rules import is_ascii_token
from services.common.validation import check_idempotency_key, page_size
from services.router.partners import outcomes
from services.router.partners.mapping import dead_letters_proto, partner_report_proto, trace_proto
from services.router.partners.service.dead_letters import DeadLetters
from services.router.partners.service.postbacks import ReportOutcome
from services.router.partners.service.reports import LeadReports
from skylane.router.v1 import leads_pb2, leads_pb2_grpc

MAX_DELIVERY_ID = 40  # the column's length
KNOWN_OUTCOMES = (outcomes.ACCEPTED, outcomes.APPROVED, outcomes.FUNDED, outcomes.REJECTED, outcomes.RETURNED)
MAX_REASON = 120


REPORT_LEAD_OUTCOME = "/" + leads_pb2.DESCRIPTOR.services_by_name["LeadService"].full_name + "/ReportLeadOutcome"


def partner_of(context: grpc.aio.ServicerContext, partner_for_token: Callable[[str], str | None]) -> str:
    """The partner whose bearer token the call carries; UNAUTHENTICATED without a known one."""
    header = next((v for k, v in context.invocation_metadata() or () if k == "authorization"), "")
    scheme, _, token = str(header).partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("postbacks need `authorization: Bearer <partner token>`", reason="MISSING_CREDENTIALS")
    partner_id = partner_for_token(token.strip())
    if partner_id is None:
        raise Unauthenticated("unknown partner token", reason="BAD_CREDENTIALS")
    return partner_id


def postback_guards(partner_for_token: Callable[[str], str | None]) -> dict[str, Guard]:
    """The edge checks a postback's token before it parses the request: a caller without a partner's
    token learns nothing of the method's rules."""

    def guard(context: grpc.aio.ServicerContext) -> None:
        partner_of(context, partner_for_token)

    return {REPORT_LEAD_OUTCOME: guard}


def _check_postback(request: leads_pb2.ReportLeadOutcomeRequest) -> None:
    v = Violations()
    check_idempotency_key(v, request.idempotency_key)
    v.check(bool(request.lead_id), "lead_id", "required")
    v.check(bool(request.partner_id), "partner_id", "required")
    v.check(request.outcome in KNOWN_OUTCOMES, "outcome", "must be ACCEPTED, APPROVED, FUNDED, REJECTED or RETURNED")
    if request.outcome == outcomes.FUNDED:
        v.check(request.funded_amount.fen > 0, "funded_amount.fen", "must be more than zero for FUNDED")
    elif request.funded_amount.fen != 0:
        v.add("funded_amount.fen", "only allowed with FUNDED")
    if request.outcome == outcomes.RETURNED:
        v.check(bool(request.reason.strip()), "reason", "required for RETURNED")
    v.check(len(request.reason) <= MAX_REASON, "reason", f"at most {MAX_REASON} characters")
    v.raise_if_any()


def _page_after(token: str) -> str:
    """The last delivery id of the previous page, from the opaque token this server issued.

    Only what a delivery id can be is taken (printable ASCII, at most the column's 40 characters): other
    text would reach the database, where PostgreSQL cannot even bind a NUL, and fail as INTERNAL."""
    if not token:
        return ""
    try:
        after = base64.b64decode(token, altchars=b"-_", validate=True).decode("ascii")
    except ValueError:  # bad base64 (binascii.Error) or not ASCII (UnicodeDecodeError)
        after = ""
    if not is_ascii_token(after, MAX_DELIVERY_ID):
        raise InvalidArgument([FieldViolation("page.page_token", "not a token this server issued")])
    return after


class LeadServicer(leads_pb2_grpc.LeadServiceServicer):
    def __init__(
        self,
        partner_for_token: Callable[[str], str | None],
        postbacks: ReportOutcome,
        dead_letters: DeadLetters,
        reports: LeadReports,
    ) -> None:
        self.partner_for_token = partner_for_token
        self.postbacks, self.dead_letters, self.reports = postbacks, dead_letters, reports

    async def ReportLeadOutcome(
        self, request: leads_pb2.ReportLeadOutcomeRequest, context: grpc.aio.ServicerContext
    ) -> leads_pb2.ReportLeadOutcomeResponse:
        caller = partner_of(context, self.partner_for_token)  # the edge checked it too: here for its id
        _check_postback(request)
        return await self.postbacks.report(request, caller)

    async def GetLeadTrace(
        self, request: leads_pb2.GetLeadTraceRequest, context: grpc.aio.ServicerContext
    ) -> leads_pb2.LeadTrace:
        if not request.lead_id:
            raise InvalidArgument([FieldViolation("lead_id", "required")])
        lead, deliveries = await self.reports.trace(request.lead_id)
        return trace_proto(lead, deliveries)

    async def ListDeadLetters(
        self, request: leads_pb2.ListDeadLettersRequest, context: grpc.aio.ServicerContext
    ) -> leads_pb2.ListDeadLettersResponse:
        size = page_size(request.page.page_size)
        after = _page_after(request.page.page_token)
        rows, more = await self.dead_letters.page(request.partner_id, after, size)
        token = base64.urlsafe_b64encode(rows[-1].delivery_id.encode()).decode() if more and rows else ""
        return dead_letters_proto(rows, token)

    async def ReplayDeadLetter(
        self, request: leads_pb2.ReplayDeadLetterRequest, context: grpc.aio.ServicerContext
    ) -> leads_pb2.ReplayDeadLetterResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        v.check(bool(request.delivery_id), "delivery_id", "required")
        v.raise_if_any()
        return await self.dead_letters.replay(request)

    async def GetPartnerReport(
        self, request: leads_pb2.GetPartnerReportRequest, context: grpc.aio.ServicerContext
    ) -> leads_pb2.GetPartnerReportResponse:
        return partner_report_proto(await self.reports.partners(request.partner_id))
