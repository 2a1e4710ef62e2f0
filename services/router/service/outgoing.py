"""The router events other services and outside systems consume (docs/events.md), each written in the unit
of work of its change: decision_made (every new decision, in the routing batch's transaction, through the
RoutingHook below), lead_funded (a partner's FUNDED postback) and loan_drawn (an in-house drawdown)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.outbox import NewEvent, emit, emit_many
from services.router.service.commands import RouteCommand, RouteOutcome
from services.router.service.policies import Snapshot


def decision_made(outcome: RouteOutcome) -> NewEvent:
    d = outcome.decision
    data = {
        "decision_id": outcome.decision_id,
        "tier": d.tier,
        "score": str(d.score),
        "destination": d.destination.value,
        "product_id": d.product_id,
        "reasons": ",".join(r.code for r in d.reasons),
        "arm": d.arm.value,
        "channel": outcome.command.channel,
        "scenario": outcome.command.scenario,
    }
    if outcome.partner is not None and outcome.partner.lead_id:
        data["lead_id"] = outcome.partner.lead_id
        data["partner_id"] = outcome.partner.partner_id
    return NewEvent("decision_made", outcome.command.applicant_ref, outcome.decided_at, data)


class DecisionEvents:
    """RoutingHook: one decision_made per new decision (a sticky repeat is not one), written with the batch.
    It runs after the partner hook, so a pool decision's event names its lead."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    async def prepare(self, command: RouteCommand, snapshot: Snapshot) -> None:
        return None

    async def in_transaction(self, session: AsyncSession, outcomes: Sequence[RouteOutcome]) -> None:
        await emit_many(session, self.dialect, [decision_made(o) for o in outcomes])


async def lead_funded(session: AsyncSession, dialect: str, lead: Any, amount_fen: int, at: datetime) -> None:
    """A partner reported the loan of one of its leads paid out."""
    await emit(
        session,
        dialect,
        type="lead_funded",
        customer=lead.applicant_ref,
        at=at,
        data={
            "lead_id": lead.lead_id,
            "decision_id": lead.decision_id,
            "partner_id": lead.partner_id or "",
            "tier": lead.tier,
            "amount_fen": str(amount_fen),
        },
    )


async def loan_drawn(session: AsyncSession, dialect: str, row: dict[str, Any], tier: str) -> None:
    """The bank's loan system reported an in-house loan drawn."""
    await emit(
        session,
        dialect,
        type="loan_drawn",
        customer=row["applicant_ref"],
        at=row["recorded_at"],
        data={
            "decision_id": row["decision_id"],
            "product": row["product_id"],
            "tier": tier,
            "amount_fen": str(row["amount_fen"]),
            "drawn_at": row["drawn_at"].isoformat(),
        },
    )
