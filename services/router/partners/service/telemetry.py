"""The partner layer's metrics and domain-event log lines (one line per event, with its ids).

Counted where it happens, once committed: delivery verdicts (`skylane_router_lead_deliveries_total`), ping
latencies (`skylane_router_partner_ping_seconds`), circuit changes (`skylane_router_partner_circuit_open`).
What lives in the database — dead letters per partner — is read by `refresh`, a periodic pass
(router/workers.py), so no call pays for a count.

Log events: `lead_delivered`, `lead_dead_lettered` (warning), `partner_circuit_opened` (warning) and
`partner_circuit_closed`. They carry lead, delivery and partner ids only; an applicant appears, if at all,
as its reference (a hash), never by name or phone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog

from services.common.metrics import GaugeSnapshot, ServiceMetrics
from services.router.partners import store
from services.router.partners.breaker import CLOSED
from services.router.partners.domain import PingResult
from services.router.partners.service.desk import PartnerDesk

log = structlog.get_logger("skylane.router.partners")

# Outcomes of skylane_router_lead_deliveries_total: one per post attempt (a post skipped because the
# partner's circuit is open is no attempt).
DELIVERED, REJECTED, FAILED, DEAD_LETTERED = "delivered", "rejected", "failed", "dead_lettered"


class PartnerTelemetry:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._deliveries = metrics.collector("skylane_router_lead_deliveries_total")
        self._ping_seconds = metrics.collector("skylane_router_partner_ping_seconds")
        self._circuit = metrics.collector("skylane_router_partner_circuit_open")
        self._circuits = GaugeSnapshot(self._circuit)
        self._dead_letters = GaugeSnapshot(metrics.collector("skylane_router_dead_letters"))
        self._pings: dict[str, Any] = {}  # partner -> its histogram child (looked up once)

    # --- pings (before the applicant's decision is written; every ping was made) ---------------------

    def pinged(self, pings: Sequence[PingResult]) -> None:
        """Latency of each ping of one lead, answered or not (a timeout counts what it waited)."""
        for ping in pings:
            child = self._pings.get(ping.partner_id)
            if child is None:
                child = self._pings[ping.partner_id] = self._ping_seconds.labels(ping.partner_id)
            child.observe(ping.latency_ms / 1000)

    # --- delivery verdicts (after the round's verdicts are committed) ---------------------------------

    def delivered(self, partner: str, lead_id: str, delivery_id: str, attempt: int, price_fen: int) -> None:
        self._deliveries.labels(partner, DELIVERED).inc()
        log.info(
            "lead_delivered",
            lead_id=lead_id,
            delivery_id=delivery_id,
            partner=partner,
            attempt=attempt,
            price_fen=price_fen,
        )

    def rejected(self, partner: str) -> None:
        self._deliveries.labels(partner, REJECTED).inc()

    def failed(self, partner: str) -> None:
        """An attempt failed and the post will be retried after its backoff."""
        self._deliveries.labels(partner, FAILED).inc()

    def dead_lettered(self, partner: str, lead_id: str, delivery_id: str, attempts: int, error: str) -> None:
        """The last attempt failed: the post waits for LeadService.ReplayDeadLetter."""
        self._deliveries.labels(partner, DEAD_LETTERED).inc()
        log.warning(
            "lead_dead_lettered",
            lead_id=lead_id,
            delivery_id=delivery_id,
            partner=partner,
            attempts=attempts,
            error=error,
        )

    # --- circuit breaker (CircuitBreaker.on_change) ----------------------------------------------------

    def circuit_changed(self, partner: str, opened: bool) -> None:
        self._circuit.labels(partner).set(1 if opened else 0)
        if opened:
            log.warning("partner_circuit_opened", partner=partner)
        else:
            log.info("partner_circuit_closed", partner=partner)

    # --- the periodic pass -----------------------------------------------------------------------------

    async def refresh(self, desk: PartnerDesk) -> None:
        """Dead letters per partner from the database; every configured partner's circuit (0 when closed),
        so each partner has its series from the first scrape on."""
        async with desk.db.report() as session:
            dead = await store.dead_letter_counts(session)
        partners = [p.id for p in desk.config.lenders]
        self._dead_letters.replace({**dict.fromkeys(partners, 0), **dead})
        now = desk.clock.now()
        self._circuits.replace({p: 0 if desk.breaker.state(p, now) == CLOSED else 1 for p in partners})
