"""RecordLoanDrawn: the bank's loan system reports that the in-house loan of a decision was drawn.

One unit of work through ServiceApp.write: the decision must be a live IN_HOUSE decision; the drawdown is
recorded once per decision (a second report, under any key, answers the first one with recorded=false and
changes nothing), and a loan_drawn event is written with it (growth earns from it).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.clock import Clock
from services.common.errors import FailedPrecondition, NotFound
from services.router.domain.model import Destination
from services.router.service import outgoing
from services.router.service.unit_of_work import Write
from services.router.store import loans as store
from skylane.common.v1 import types_pb2
from skylane.router.v1 import router_pb2

METHOD = "RouterService.RecordLoanDrawn"


class LoansDrawn:
    def __init__(self, write: Write, clock: Clock, dialect: str) -> None:
        self.write, self.clock, self.dialect = write, clock, dialect

    async def record(
        self, request: router_pb2.RecordLoanDrawnRequest, drawn_at: datetime | None
    ) -> router_pb2.RecordLoanDrawnResponse:
        now = self.clock.now()

        async def work(session: AsyncSession) -> router_pb2.RecordLoanDrawnResponse:
            decision = await store.live_decision(session, request.decision_id)
            if decision is None:
                raise NotFound("decision", request.decision_id)
            if decision.destination != Destination.IN_HOUSE.value:
                raise FailedPrecondition(
                    "NOT_IN_HOUSE",
                    f"the decision sent the applicant to {decision.destination}, not the in-house product",
                    subject=f"decision/{request.decision_id}",
                )
            row = {
                "decision_id": request.decision_id,
                "applicant_ref": decision.applicant_ref,
                "product_id": decision.product_id,
                "amount_fen": request.amount.fen,
                "drawn_at": drawn_at or now,
                "recorded_at": now,
            }
            if not await store.record_once(session, self.dialect, row):
                first = await store.recorded(session, request.decision_id)
                return _response(first.decision_id, False, first.amount_fen, first.product_id)
            await outgoing.loan_drawn(session, self.dialect, row, decision.tier)
            return _response(request.decision_id, True, request.amount.fen, decision.product_id)

        return await self.write(METHOD, request, router_pb2.RecordLoanDrawnResponse, work)


def _response(decision_id: str, recorded: bool, amount_fen: int, product_id: str) -> router_pb2.RecordLoanDrawnResponse:
    return router_pb2.RecordLoanDrawnResponse(
        decision_id=decision_id, recorded=recorded, amount=types_pb2.Money(fen=amount_fen), product_id=product_id
    )
