"""The partner layer's hook into RouteApplicant (services.router.service.commands.RoutingHook).

`prepare` runs before the decision batch's transaction: it predicts the acting arm's destination from
the request alone (history-based knock-outs aside) and, for an applicant headed for the pool, pings the
partners within the budget. `in_transaction` runs inside the batch's write transaction with the final
decisions: every pool decision becomes a lead there — chosen partner, caps reserved, outbox row, trace —
committed together with the decision. A pool decision nobody predicted (in-house overflow at the cap)
becomes a lead PENDING selection, which the dispatcher completes outside the applicant's call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.router.domain.model import Destination, Facts
from services.router.domain.routing import evaluate_arms
from services.router.partners import store
from services.router.partners.domain import Consent, LeadApplicant
from services.router.partners.payload import lead_applicant, region_code
from services.router.partners.service.desk import PartnerDesk, PreparedOffer
from services.router.partners.service.leads import LeadResult, Leads, RecordItem
from skylane.common.v1 import types_pb2
from skylane.router.v1 import router_pb2

if TYPE_CHECKING:
    from services.router.service.commands import RouteCommand, RouteOutcome
    from services.router.service.policies import Snapshot

log = structlog.get_logger("skylane.router.partners")

OFFER = "partner_offer"

STATUS = {
    store.PENDING_SELECTION: router_pb2.PARTNER_ROUTING_STATUS_PENDING_SELECTION,
    store.OFFERED: router_pb2.PARTNER_ROUTING_STATUS_OFFERED,
    store.UNSOLD: router_pb2.PARTNER_ROUTING_STATUS_NO_BIDDER,
}


def applicant_from_command(command: RouteCommand, tier: str, score: float) -> LeadApplicant:
    """The lead's applicant: typed values only (command.attributes never holds free text), kept to what a
    partner may see (partners/payload.py), so the lead row and the partner payload agree."""
    request = command.request
    age = command.attributes.get("age")
    consents = tuple(
        Consent(
            frozenset(c.recipient_ids),
            frozenset(c.recipient_classes),
            frozenset(c.purposes),
            c.granted_at.ToDatetime(tzinfo=UTC) if c.HasField("granted_at") else None,
            c.expires_at.ToDatetime(tzinfo=UTC) if c.HasField("expires_at") else None,
        )
        for c in request.consents
    )
    return lead_applicant(
        LeadApplicant(
            applicant_ref=command.applicant_ref,
            tier=tier,
            score=float(score),
            age=age if isinstance(age, int) and not isinstance(age, bool) else None,
            region=region_code(command.attributes.get("region")),
            requested_amount_fen=request.requested_amount.fen,
            term_months=request.term_months,
            phone_hash=request.phone_hash,
            channel=command.channel,
            consents=consents,
        )
    )


class PartnerHook:
    def __init__(self, desk: PartnerDesk, leads: Leads) -> None:
        self.desk, self.leads = desk, leads
        self.telemetry = leads.telemetry

    async def prepare(self, command: RouteCommand, snapshot: Snapshot) -> None:
        if not self.desk.config.lenders:
            return  # nobody to ping
        facts = Facts(
            applicant_ref=command.applicant_ref,
            channel=command.channel,
            scenario=command.scenario,
            attributes=command.attributes,
            has_device=command.device_ref is not None,
        )
        try:
            arms = evaluate_arms(
                snapshot.champion, snapshot.candidate, snapshot.state, snapshot.config.rollout_salt, facts
            )
        except Exception:  # the decision itself will report what is wrong; the prediction is only a hint
            log.exception("partner_prediction_failed")
            return
        acting = arms.acting
        if acting.capacity_claim is None and acting.fallback == Destination.PARTNER_POOL:
            applicant = applicant_from_command(command, acting.tier, acting.score)
            offer = await self.desk.offer(applicant)
            self.telemetry.pinged(offer.pings)
            command.extras[OFFER] = offer

    async def in_transaction(self, session: AsyncSession, outcomes: Sequence[RouteOutcome]) -> None:
        pool = [o for o in outcomes if o.decision.destination == Destination.PARTNER_POOL]
        if not pool:
            return
        items = []
        for o in pool:
            applicant = applicant_from_command(o.command, o.decision.tier, o.decision.score)
            offer: PreparedOffer | None = o.command.extras.get(OFFER)
            if offer is not None and offer.applicant.tier != applicant.tier:
                offer = None  # the prediction was off: select again with the final tier, after the call
            items.append(RecordItem(offer, applicant, o.decision_id, o.config_version))
        results = await self.leads.record_many(session, items)
        for o, result in zip(pool, results, strict=True):
            o.partner = partner_routing(result)


def partner_routing(result: LeadResult) -> router_pb2.PartnerRouting:
    return router_pb2.PartnerRouting(
        lead_id=result.lead_id,
        partner_id=result.partner_id,
        price=types_pb2.Money(fen=result.price_fen),
        status=STATUS[result.status],
    )
