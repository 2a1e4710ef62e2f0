"""ReportLeadOutcome: a partner reports what became of a lead it accepted; the outcome teaches selection.

One idempotent unit of work: the lead is checked (the caller's, posted, the outcome moving forward, the
return share kept), updated, and the funding estimate moved. The in-memory estimates learn only after
the unit committed, and only when this call made the change (not on an idempotent replay); a final
outcome (funded, or rejected / returned before funding) is logged for the contextual estimates in the
same unit (partner_observations), so a restart replays it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
)
from services.router.partners import estimates, outcomes, store
from services.router.partners.estimates import Observation
from services.router.partners.service.desk import PartnerDesk
from services.router.service import outgoing
from services.router.service.unit_of_work import Write
from skylane.router.v1 import leads_pb2

METHOD = "LeadService.ReportLeadOutcome"


class ReportOutcome:
    def __init__(self, write: Write, desk: PartnerDesk) -> None:
        self.write, self.desk = write, desk

    async def report(
        self, request: leads_pb2.ReportLeadOutcomeRequest, caller: str
    ) -> leads_pb2.ReportLeadOutcomeResponse:
        """`caller` is the partner the postback's token belongs to."""
        if request.partner_id not in self.desk.config.by_id():
            raise NotFound("partner", request.partner_id)
        if request.partner_id != caller:
            raise PermissionDenied("the token belongs to another partner", reason="PARTNER_MISMATCH")
        learned: list[tuple[str, outcomes.Learning]] = []
        observed: list[Observation] = []

        async def work(session: AsyncSession) -> leads_pb2.ReportLeadOutcomeResponse:
            lead = await self._posted_lead_of(session, request.lead_id, caller)
            self._check_move(request, lead)
            if request.outcome == outcomes.RETURNED:
                await self._count_return(session, caller)
            change = outcomes.learning(lead.outcome, request.outcome)
            await self._record(session, request, lead, change)
            learned.append((lead.tier, change))
            if change.fund_s or change.fund_f:  # a final outcome; until then the lead is pending (censored)
                at = self.desk.clock.now().timestamp()
                observed.append(Observation(estimates.OUTCOME, lead.lead_id, caller, bool(change.fund_s), at))
                await store.log_observations(session, observed, self.desk.replica)
            return leads_pb2.ReportLeadOutcomeResponse(lead_id=lead.lead_id, outcome=request.outcome)

        response = await self.write(METHOD, request, leads_pb2.ReportLeadOutcomeResponse, work)
        for tier, change in learned:  # only when this call made the change (not an idempotent replay)
            self.desk.estimates.add(caller, tier, fund_s=change.fund_s, fund_f=change.fund_f)
        self.desk.learn(observed)
        return response

    async def _posted_lead_of(self, session: AsyncSession, lead_id: str, caller: str) -> Any:
        lead = await store.load_lead(session, lead_id, for_update=self.desk.db.dialect == "postgresql")
        if lead is None:
            raise NotFound("lead", lead_id)
        if lead.partner_id != caller:
            raise PermissionDenied(f"lead {lead_id} is not a lead of {caller}", reason="NOT_YOUR_LEAD")
        if lead.status != store.POSTED:
            raise FailedPrecondition(
                "LEAD_NOT_ACCEPTED", "the post of this lead has not been recorded as accepted yet", subject=lead_id
            )
        return lead

    @staticmethod
    def _check_move(request: leads_pb2.ReportLeadOutcomeRequest, lead: Any) -> None:
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

    async def _count_return(self, session: AsyncSession, caller: str) -> None:
        share = self.desk.config.max_return_share
        if not await store.count_return(session, caller, share):
            raise QuotaExceeded(
                "RETURN_SHARE_EXCEEDED", f"returns are limited to {share:.0%} of accepted leads", subject=caller
            )

    async def _record(
        self, session: AsyncSession, request: leads_pb2.ReportLeadOutcomeRequest, lead: Any, change: outcomes.Learning
    ) -> None:
        desk = self.desk
        if change.fund_s or change.fund_f:
            await store.bump_estimate(
                session, desk.db.dialect, lead.partner_id, lead.tier, fund_s=change.fund_s, fund_f=change.fund_f
            )
        funded = request.funded_amount.fen if request.outcome == outcomes.FUNDED else lead.funded_amount_fen
        await store.update_lead(
            session,
            lead.lead_id,
            outcome=request.outcome,
            funded_amount_fen=funded,
            outcome_reason=request.reason,
            updated_at=desk.clock.now(),
        )
        if request.outcome == outcomes.FUNDED:
            await outgoing.lead_funded(session, desk.db.dialect, lead, funded, desk.clock.now())
