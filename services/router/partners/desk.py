"""The partner desk: what RouteApplicant calls for a pool decision, and the state shared with the
dispatcher and LeadService (partner channels, circuit breakers, learned estimates, postback tokens).

Two steps, so no network call ever happens inside a database transaction:
  1. `offer()` — before the transaction: eligibility, parallel masked ping within the budget, ranking.
  2. `record()` — inside the decision's transaction: reserve caps in rank order, write the lead, its
     decision trace, the ping log and the outbox row, all committed with the decision itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.clock import Clock
from services.common.db import Database
from services.router.partners import store
from services.router.partners.breaker import CircuitBreaker
from services.router.partners.channels import PartnerChannels
from services.router.partners.config import PartnersConfig
from services.router.partners.domain import (
    Candidate,
    Consent,
    EstimateBook,
    LeadApplicant,
    PingResult,
    Scorer,
    TraceEntry,
    age_band,
    cap_window_keys,
    finalize_trace,
    prefilter,
    rank,
    score_band,
    thompson_scorer,
    waterfall_scorer,
)
from services.router.partners.ping import ping_all
from skylane.common.v1 import types_pb2
from skylane.partner.v1 import partner_pb2

log = structlog.get_logger("skylane.router.partners")


@dataclass(frozen=True)
class PreparedOffer:
    """Result of step 1: everything step 2 needs, computed without touching the database."""

    lead_id: str
    applicant: LeadApplicant
    masked: partner_pb2.MaskedApplicant
    policy: str
    ranked: list[Candidate]
    trace: list[TraceEntry]
    pings: list[PingResult]


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


@dataclass
class Choice:
    """Which ranked candidate got the lead (caps reserved), which were capped, who is left as fallback."""

    chosen: Candidate | None
    cap_keys: list[str]
    capped: list[str]
    fallbacks: list[Candidate]


@dataclass(frozen=True)
class _Plan:
    lead: dict[str, Any]
    delivery: store.NewDelivery | None
    pings: list[dict[str, Any]]
    result: LeadResult


def applicant_to_json(a: LeadApplicant) -> str:
    """De-identified applicant (hashed refs, bands' inputs, consents) so selection can run later."""
    data = {
        "applicant_ref": a.applicant_ref,
        "tier": a.tier,
        "score": a.score,
        "age": a.age,
        "region": a.region,
        "requested_amount_fen": a.requested_amount_fen,
        "term_months": a.term_months,
        "phone_hash": a.phone_hash,
        "channel": a.channel,
        "consents": [
            {
                "ids": sorted(c.recipient_ids),
                "classes": sorted(c.recipient_classes),
                "purposes": sorted(c.purposes),
                "granted_at": c.granted_at.isoformat() if c.granted_at else None,
                "expires_at": c.expires_at.isoformat() if c.expires_at else None,
            }
            for c in a.consents
        ],
    }
    return json.dumps(data, separators=(",", ":"))


def applicant_from_json(text: str) -> LeadApplicant:
    data = json.loads(text)
    consents = tuple(
        Consent(
            frozenset(c["ids"]),
            frozenset(c["classes"]),
            frozenset(c["purposes"]),
            datetime.fromisoformat(c["granted_at"]) if c["granted_at"] else None,
            datetime.fromisoformat(c["expires_at"]) if c["expires_at"] else None,
        )
        for c in data.pop("consents")
    )
    return LeadApplicant(**data, consents=consents)


def mask(applicant: LeadApplicant) -> partner_pb2.MaskedApplicant:
    return partner_pb2.MaskedApplicant(
        phone_hash=applicant.phone_hash,
        age_band=age_band(applicant.age),
        region=applicant.region,
        score_band=score_band(applicant.score),
        requested_amount=types_pb2.Money(fen=applicant.requested_amount_fen),
        tier=applicant.tier,
        term_months=applicant.term_months,
    )


class PartnerDesk:
    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        config: Callable[[], PartnersConfig],
        environ: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.db, self.clock, self._config = db, clock, config
        self.environ = dict(environ or {})
        self.rng = rng or random.Random()
        self.channels = PartnerChannels()
        # The breaker reads the desk's clock (the app's injected one), so tests move its open period.
        self.breaker = CircuitBreaker(0, timedelta(0), clock)
        self._tune_breaker()
        self.estimates = EstimateBook()

    @property
    def config(self) -> PartnersConfig:
        return self._config()

    def on_config(self) -> None:
        """Called after a config reload: breaker thresholds follow the new values."""
        self._tune_breaker()

    def _tune_breaker(self) -> None:
        delivery = self.config.delivery
        self.breaker.failures_to_open = delivery.breaker_failures
        self.breaker.cooldown = timedelta(milliseconds=delivery.breaker_cooldown_ms)
        # A probe is one post: past its deadline plus a margin its verdict is lost, not late.
        self.breaker.probe_timeout = timedelta(milliseconds=delivery.attempt_timeout_ms * 2 + 1000)

    async def load(self) -> None:
        async with self.db.read() as session:
            self.estimates = await store.load_estimates(session)

    async def close(self) -> None:
        await self.channels.close()

    # --- postback authentication -------------------------------------------------------------------

    def partner_for_token(self, token: str) -> str | None:
        """The partner whose configured token this is (compared as digests, never logged)."""
        wanted = hashlib.sha256(token.encode()).digest()
        for partner in self.config.lenders:
            secret = partner.token or (self.environ.get(partner.token_env, "") if partner.token_env else "")
            if secret and hashlib.sha256(secret.encode()).digest() == wanted:
                return partner.id
        return None

    # --- step 1: before the transaction ------------------------------------------------------------

    def scorer(self, tier: str) -> tuple[str, Scorer]:
        config = self.config
        if config.policy == "waterfall" and tier in config.waterfall:
            return "waterfall", waterfall_scorer(config.waterfall[tier])
        return "thompson", thompson_scorer(self.estimates, self.rng)

    async def offer(self, applicant: LeadApplicant, *, lead_id: str | None = None) -> PreparedOffer:
        config = self.config
        now = self.clock.now()
        lead_id = lead_id or uuid.uuid4().hex
        eligible, skipped = prefilter(applicant, config, lambda pid: self.breaker.is_open(pid, now), now)
        masked = mask(applicant)
        pings = await ping_all(self.channels, eligible, lead_id, masked, config.ping_budget_ms)
        policy, scorer = self.scorer(applicant.tier)
        ranked, ranked_trace = rank(applicant, config.by_id(), pings, scorer)
        order = {p.id: i for i, p in enumerate(config.lenders)}
        trace = sorted([*skipped, *ranked_trace], key=lambda e: order.get(e.partner_id, len(order)))
        return PreparedOffer(lead_id, applicant, masked, policy, ranked, trace, pings)

    def _unsold(self, applicant: LeadApplicant) -> PreparedOffer:
        policy, _ = self.scorer(applicant.tier)
        return PreparedOffer(uuid.uuid4().hex, applicant, mask(applicant), policy, [], [], [])

    # --- step 2: inside the decision's transaction -------------------------------------------------

    async def record(
        self, session: AsyncSession, offer: PreparedOffer, *, decision_id: str, config_version: str
    ) -> LeadResult:
        return (await self.record_many(session, [RecordItem(offer, offer.applicant, decision_id, config_version)]))[0]

    async def record_many(self, session: AsyncSession, items: Sequence[RecordItem]) -> list[LeadResult]:
        """Writes the leads of one decision batch: caps reserved lead by lead (in arrival order), then one
        INSERT each for leads, outbox rows and ping log rows. An item without an offer becomes a lead
        PENDING selection (the dispatcher pings and selects for it later)."""
        if not self.config.lenders:
            # Nobody to select later: the lead is unsold now rather than left pending for the dispatcher.
            items = [item if item.offer else replace(item, offer=self._unsold(item.applicant)) for item in items]
        leads: list[dict[str, Any]] = []
        deliveries: list[tuple[str, store.NewDelivery]] = []
        pings: list[dict[str, Any]] = []
        results: list[LeadResult] = []
        offers = [item.offer for item in items if item.offer is not None]
        choices = iter(await self.choose(session, [o.ranked for o in offers]))
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
        await store.insert_leads(session, leads, deliveries, pings, self.clock.now())
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
            "applicant_json": applicant_to_json(a),
            "outcome": 0,
            "funded_amount_fen": 0,
            "outcome_reason": "",
            "created_at": self.clock.now(),
        }

    def _pending_row(self, lead_id: str, item: RecordItem) -> dict[str, Any]:
        now = self.clock.now()
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
            "offer_expires_at": now + timedelta(seconds=self.config.offer_window_seconds),
            "updated_at": now,
        }

    async def choose(self, session: AsyncSession, rankings: Sequence[Sequence[Candidate]]) -> list[Choice]:
        """For each ranking (in order), the first partner whose caps all have room; reservations are made.

        The cap rows of every partner involved are locked once (FOR UPDATE on PostgreSQL; SQLite's writer
        transaction is exclusive), counted in memory in arrival order, and written back in one statement,
        so a whole decision batch costs three statements however many leads it holds.
        """
        partners = self.config.by_id()
        now = self.clock.now()
        windows: dict[str, list[tuple[str, int]]] = {}
        for ranked in rankings:
            for c in ranked:
                partner = partners.get(c.partner_id)
                if partner is not None and c.partner_id not in windows:
                    limits = partner.caps.limits()
                    keys = cap_window_keys(now, self.config.caps_timezone, limits)
                    windows[c.partner_id] = [(f"{kind}:{keys[kind]}", cap) for kind, cap in limits.items()]
        rows = [(pid, key, cap) for pid, ws in windows.items() for key, cap in ws]
        used = await store.lock_caps(session, self.db.dialect, rows) if rows else {}
        taken: dict[tuple[str, str], int] = {}
        choices: list[Choice] = []
        for ranked in rankings:
            choice = Choice(None, [], [], [])
            for i, c in enumerate(ranked):
                ws = windows.get(c.partner_id)
                room = ws is not None and all(
                    used.get((c.partner_id, key), 0) + taken.get((c.partner_id, key), 0) + 1 <= cap for key, cap in ws
                )
                if not room or ws is None:
                    choice.capped.append(c.partner_id)
                    continue
                for key, _ in ws:
                    taken[(c.partner_id, key)] = taken.get((c.partner_id, key), 0) + 1
                choice.chosen, choice.cap_keys, choice.fallbacks = c, [key for key, _ in ws], list(ranked[i + 1 :])
                break
            choices.append(choice)
        caps = {(pid, key): cap for pid, key, cap in rows}
        await store.add_cap_usage(session, [(pid, key, n, caps[(pid, key)]) for (pid, key), n in taken.items()])
        return choices

    def _plan(self, offer: PreparedOffer, choice: Choice) -> _Plan:
        """Shapes the lead's selection columns, outbox row and ping log from the chosen partner."""
        config = self.config
        now = self.clock.now()
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
        async with self.db.read() as session:
            pending = await store.pending_leads(session, limit)
        done = 0
        for lead_id, applicant_json in pending:
            applicant = applicant_from_json(applicant_json)
            offer = await self.offer(applicant, lead_id=lead_id)
            try:
                async with self.db.transaction() as session:
                    (choice,) = await self.choose(session, [offer.ranked])
                    plan = self._plan(offer, choice)
                    if not await store.settle_pending(session, plan.lead):
                        raise _AlreadySelected
                    if plan.delivery is not None:
                        await store.insert_leads(session, [], [(lead_id, plan.delivery)], plan.pings, self.clock.now())
                    elif plan.pings:
                        await store.insert_leads(session, [], [], plan.pings, self.clock.now())
            except _AlreadySelected:  # another router process selected it first; our reservations rolled back
                continue
            done += 1
        return done
