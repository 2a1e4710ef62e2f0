"""Leads: every pool decision becomes a lead, recorded in the decision's own transaction.

`record_many` writes the leads of one decision batch: for a lead whose offer was prepared before the
transaction (desk.offer), caps are reserved in rank order and the post is queued in the outbox; a lead
without one (the prediction was off, or in-house overflow) is recorded PENDING selection, and
`select_pending` pings and selects for it later, outside the applicant's call.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.metrics import ServiceMetrics
from services.router.partners import store
from services.router.partners.domain import LeadApplicant, TraceEntry, finalize_trace
from services.router.partners.service.desk import Choice, PartnerDesk, PreparedOffer, mask
from services.router.partners.service.telemetry import PartnerTelemetry


@dataclass(frozen=True)
class RecordItem:
    """One pool decision to turn into a lead (offer None: select later, outside the caller's budget)."""

    offer: PreparedOffer | None
    applicant: LeadApplicant
    decision_id: str
    config_version: str


class _AlreadySelected(Exception):
    pass


@dataclass(frozen=True)
class LeadResult:
    """What the lead became in the decision's transaction."""

    lead_id: str
    status: str  # OFFERED (a post is queued) or UNSOLD
    partner_id: str
    price_fen: int
    trace: list[TraceEntry] = field(default_factory=list)


@dataclass(frozen=True)
class _Plan:
    lead: dict[str, Any]
    delivery: store.NewDelivery | None
    pings: list[dict[str, Any]]
    result: LeadResult


class Leads:
    def __init__(self, desk: PartnerDesk, telemetry: PartnerTelemetry | None = None) -> None:
        self.desk = desk
        self.telemetry = telemetry or PartnerTelemetry(ServiceMetrics("router"))

    def _unsold(self, applicant: LeadApplicant) -> PreparedOffer:
        policy, _ = self.desk.scorer(applicant.tier)
        return PreparedOffer(uuid.uuid4().hex, applicant, mask(applicant), policy, [], [], [])

    async def record_many(self, session: AsyncSession, items: Sequence[RecordItem]) -> list[LeadResult]:
        """Writes the leads of one decision batch: caps reserved lead by lead (in arrival order), then one
        INSERT each for leads, outbox rows and ping log rows. An item without an offer becomes a lead
        PENDING selection (the dispatcher pings and selects for it later)."""
        if not self.desk.config.lenders:
            # Nobody to select later: the lead is unsold now rather than left pending for the dispatcher.
            items = [item if item.offer else replace(item, offer=self._unsold(item.applicant)) for item in items]
        leads: list[dict[str, Any]] = []
        deliveries: list[tuple[str, store.NewDelivery]] = []
        pings: list[dict[str, Any]] = []
        results: list[LeadResult] = []
        offers = [item.offer for item in items if item.offer is not None]
        choices = iter(await self.desk.choose(session, [o.ranked for o in offers]))
        for item in items:
            if item.offer is None:
                lead_id = uuid.uuid4().hex
                leads.append(self._pending_row(lead_id, item))
                results.append(LeadResult(lead_id, store.PENDING_SELECTION, "", 0))
                continue
            plan = self._plan(item.offer, next(choices))
            leads.append({**plan.lead, **self._identity(item)})
            if plan.delivery is not None:
                deliveries.append((item.offer.lead_id, plan.delivery))
            pings.extend(plan.pings)
            results.append(plan.result)
        await store.insert_leads(session, leads, deliveries, pings, self.desk.clock.now())
        return results

    def _identity(self, item: RecordItem) -> dict[str, Any]:
        a = item.applicant
        return {
            "decision_id": item.decision_id,
            "config_version": item.config_version,
            "applicant_ref": a.applicant_ref,
            "tier": a.tier,
            "source_channel": a.channel,
            "requested_amount_fen": a.requested_amount_fen,
            "applicant_json": store.applicant_to_json(a),
            "outcome": 0,
            "funded_amount_fen": 0,
            "outcome_reason": "",
            "created_at": self.desk.clock.now(),
        }

    def _pending_row(self, lead_id: str, item: RecordItem) -> dict[str, Any]:
        now = self.desk.clock.now()
        return {
            **self._identity(item),
            "lead_id": lead_id,
            "policy": "",
            "status": store.PENDING_SELECTION,
            "partner_id": None,
            "price_fen": 0,
            "masked_applicant": base64.b64encode(mask(item.applicant).SerializeToString()).decode(),
            "fallbacks": "[]",
            "trace": "[]",
            "offer_expires_at": now + timedelta(seconds=self.desk.config.offer_window_seconds),
            "updated_at": now,
        }

    def _plan(self, offer: PreparedOffer, choice: Choice) -> _Plan:
        """Shapes the lead's selection columns, outbox row and ping log from the chosen partner."""
        config = self.desk.config
        now = self.desk.clock.now()
        chosen, cap_keys, capped, fallbacks = choice.chosen, choice.cap_keys, choice.capped, choice.fallbacks
        trace = finalize_trace(offer.trace, chosen.partner_id if chosen else None, capped)
        lead = {
            "lead_id": offer.lead_id,
            "policy": offer.policy,
            "status": store.OFFERED if chosen else store.UNSOLD,
            "partner_id": chosen.partner_id if chosen else None,
            "price_fen": chosen.price_fen if chosen else 0,
            "masked_applicant": base64.b64encode(offer.masked.SerializeToString()).decode(),
            "fallbacks": json.dumps([[c.partner_id, c.price_fen, c.expected_value_fen] for c in fallbacks]),
            "trace": store.trace_json(trace),
            "offer_expires_at": now + timedelta(seconds=config.offer_window_seconds),
            "updated_at": now,
        }
        delivery = (
            store.NewDelivery(uuid.uuid4().hex, chosen.partner_id, chosen.price_fen, cap_keys) if chosen else None
        )
        pings = [
            {
                "lead_id": offer.lead_id,
                "partner_id": p.partner_id,
                "status": p.status,
                "bid_fen": p.bid_fen,
                "latency_ms": p.latency_ms,
                "won": chosen is not None and p.partner_id == chosen.partner_id,
                "created_at": now,
            }
            for p in offer.pings
        ]
        result = LeadResult(
            offer.lead_id,
            store.OFFERED if chosen else store.UNSOLD,
            chosen.partner_id if chosen else "",
            chosen.price_fen if chosen else 0,
            trace,
        )
        return _Plan(lead, delivery, pings, result)

    async def select_pending(self, limit: int = 20) -> int:
        """Selection for leads recorded without an offer (e.g. in-house overflow): ping, rank, reserve, queue."""
        async with self.desk.db.read() as session:
            pending = await store.pending_leads(session, limit)
        done = 0
        for lead_id, applicant_json in pending:
            offer = await self.desk.offer(store.applicant_from_json(applicant_json), lead_id=lead_id)
            self.telemetry.pinged(offer.pings)
            try:
                await self._settle_pending(lead_id, offer)
            except _AlreadySelected:  # another router process selected it first; our reservations rolled back
                continue
            done += 1
        return done

    async def _settle_pending(self, lead_id: str, offer: PreparedOffer) -> None:
        async with self.desk.db.transaction() as session:
            (choice,) = await self.desk.choose(session, [offer.ranked])
            plan = self._plan(offer, choice)
            if not await store.settle_pending(session, plan.lead):
                raise _AlreadySelected
            deliveries = [(lead_id, plan.delivery)] if plan.delivery is not None else []
            if deliveries or plan.pings:
                await store.insert_leads(session, [], deliveries, plan.pings, self.desk.clock.now())
