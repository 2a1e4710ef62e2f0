"""Ops views of the partner layer: one lead's decision trace and deliveries, and the per-partner report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.errors import NotFound
from services.router.partners import store
from services.router.partners.domain import EstimateBook
from services.router.partners.service.desk import PartnerDesk


@dataclass(frozen=True)
class PartnerReport:
    """Figures per partner, the learned estimates behind selection, and each partner's circuit state now."""

    partner_ids: list[str]
    figures: dict[str, store.PartnerFigures]
    book: EstimateBook
    circuits: dict[str, str]


class LeadReports:
    def __init__(self, desk: PartnerDesk) -> None:
        self.desk = desk

    async def trace(self, lead_id: str) -> tuple[Any, list[Any]]:
        """The lead (with its decision trace) and its deliveries in order."""
        async with self.desk.db.read() as session:
            lead = await store.load_lead(session, lead_id)
            if lead is None:
                raise NotFound("lead", lead_id)
            deliveries = await store.deliveries_of(session, lead_id)
        return lead, deliveries

    async def partners(self, partner_id: str) -> PartnerReport:
        """Every configured partner, or the one asked for."""
        ids = [p.id for p in self.desk.config.lenders]
        if partner_id:
            if partner_id not in ids:
                raise NotFound("partner", partner_id)
            ids = [partner_id]
        async with self.desk.db.report() as session:
            figures = await store.partner_figures(session, ids)
            book = await store.load_estimates(session)
        now = self.desk.clock.now()
        return PartnerReport(ids, figures, book, {pid: self.desk.breaker.state(pid, now) for pid in ids})
