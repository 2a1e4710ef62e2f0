"""Lead delivery: the outbox dispatcher posts queued leads at least once; partners dedupe on the lead id.

Per attempt: a deadline; on failure, exponential backoff with full jitter; after max_attempts the
delivery becomes a dead letter ops can list and replay. A circuit breaker per partner stops hammering a
partner that is down and lets one probe through after its open period. A rejected post releases its cap
reservation and offers the lead to the next bidder while the offer window is open.

One round: claim due rows (one transaction), post them — partners in parallel, each partner in waves no
larger than the breaker allows (so a dead partner gets at most `breaker_failures` calls before its circuit
opens) — then write every verdict in one transaction, so a busy round costs one commit, not one per lead.
Rounds run in the background (partners/workers.py) or when a test drives them.

Once a round's verdicts are committed each is counted and the deliveries and dead letters are logged
(telemetry.py); each post is a client span when tracing is on, its `traceparent` sent to the partner.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import grpc
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.metrics import ServiceMetrics
from services.common.tracing import client_span
from services.router.partners import estimates, store
from services.router.partners.breaker import full_jitter_backoff
from services.router.partners.config import Partner
from services.router.partners.domain import CIRCUIT_OPEN, Candidate, standing_reason
from services.router.partners.estimates import Observation
from services.router.partners.service.desk import PartnerDesk, masked_features
from services.router.partners.service.telemetry import PartnerTelemetry
from skylane.common.v1 import types_pb2
from skylane.partner.v1 import partner_pb2

log = structlog.get_logger("skylane.router.dispatcher")

ACCEPTED, REJECTED, FAILED, SKIPPED = "accepted", "rejected", "failed", "skipped"
MAX_PARALLEL_PER_PARTNER = 16
POST = f"/{partner_pb2.DESCRIPTOR.services_by_name['PartnerService'].full_name}/Post"


@dataclass(frozen=True)
class Attempt:
    item: store.DueDelivery
    verdict: str
    detail: str = ""
    ms: float | None = None  # how long the partner took to answer the post


def observation(attempt: Attempt, at: float) -> Observation:
    """What a post's verdict teaches the estimates: accepted or not, for a lead with these bands and price."""
    item = attempt.item
    masked = partner_pb2.MaskedApplicant.FromString(base64.b64decode(item.masked_applicant))
    return Observation(
        estimates.POST,
        item.lead_id,
        item.partner_id,
        attempt.verdict == ACCEPTED,
        at,
        masked_features(masked, item.source_channel),
        item.price_fen,
        attempt.ms,
    )


class Dispatcher:
    def __init__(
        self, desk: PartnerDesk, rng: random.Random | None = None, telemetry: PartnerTelemetry | None = None
    ) -> None:
        self.desk = desk
        self.rng = rng or random.Random()
        self.telemetry = telemetry or PartnerTelemetry(ServiceMetrics("router"))

    async def run_once(self) -> dict[str, int]:
        """Delivers one batch of due posts; returns how many ended accepted / rejected / failed / skipped."""
        config = self.desk.config.delivery
        now = self.desk.clock.now()
        # The lease outlives the attempt deadline, so a crashed process's claim becomes due again.
        lease = now + timedelta(milliseconds=config.attempt_timeout_ms * 3 + 1000)
        async with self.desk.db.transaction() as session:
            due = await store.claim_due(session, now, lease, config.batch_size)
        if not due:
            return {}
        by_partner: dict[str, list[store.DueDelivery]] = defaultdict(list)
        for item in due:
            by_partner[item.partner_id].append(item)
        rounds = await asyncio.gather(*(self._partner_round(pid, items) for pid, items in by_partner.items()))
        attempts = [a for part in rounds for a in part]
        learned: list[tuple[str, str, int, int]] = []
        recorded: set[str] = set()  # deliveries whose verdict this round wrote
        async with self.desk.db.transaction() as session:
            accepted = [a.item for a in attempts if a.verdict == ACCEPTED]
            learned.extend(await self._record_accepted(session, accepted, recorded))
            dead = await self._record_retries(session, [a for a in attempts if a.verdict in (FAILED, SKIPPED)])
            for attempt in attempts:
                if attempt.verdict == REJECTED and await self._rejected(
                    session, attempt.item, attempt.detail, self.desk.clock.now()
                ):
                    learned.append((attempt.item.partner_id, attempt.item.tier, 0, 1))
                    recorded.add(attempt.item.delivery_id)
            at = self.desk.clock.now().timestamp()
            answered = [a for a in attempts if a.verdict in (ACCEPTED, REJECTED) and a.item.delivery_id in recorded]
            verdicts = [observation(a, at) for a in answered]
            await store.log_observations(session, verdicts, self.desk.replica)
        for partner_id, tier, accept_s, accept_f in learned:
            self.desk.estimates.add(partner_id, tier, accept_s=accept_s, accept_f=accept_f)
        self.desk.learn(verdicts)
        self._report(attempts, recorded, dead)
        totals: dict[str, int] = defaultdict(int)
        for attempt in attempts:
            totals[attempt.verdict] += 1
        return dict(totals)

    async def _partner_round(self, partner_id: str, items: list[store.DueDelivery]) -> list[Attempt]:
        desk = self.desk
        partner = desk.config.by_id().get(partner_id)
        done: list[Attempt] = []
        i = 0
        while i < len(items):
            budget = self._budget(partner, desk.clock.now()) if partner else 0
            if budget == 0 or partner is None:
                detail = CIRCUIT_OPEN if partner is not None else "UNKNOWN_PARTNER"
                done.extend(Attempt(item, SKIPPED, detail) for item in items[i:])
                break
            wave, i = items[i : i + budget], i + budget
            answers = await asyncio.gather(*(self._timed_post(partner, item) for item in wave))
            for item, (verdict, detail, ms) in zip(wave, answers, strict=True):
                if verdict == FAILED:
                    desk.breaker.record_failure(partner_id, desk.clock.now())
                else:
                    desk.breaker.record_success(partner_id)
                done.append(Attempt(item, verdict, detail, ms))
        return done

    def _budget(self, partner: Partner, now: datetime) -> int:
        """How many posts to this partner may go now (see CircuitBreaker.call_budget)."""
        breaker = self.desk.breaker
        if breaker.probe_due(partner.id, now) and not self.desk.channels.ready(partner):
            # Its channel is still re-dialling, so the probe would fail without reaching the partner and
            # spend a lead's attempt for nothing (a long outage would dead-letter leads one probe at a
            # time): put the probe off for another open period; the channel keeps dialling meanwhile.
            breaker.hold(partner.id, now)
            return 0
        return breaker.call_budget(partner.id, now, MAX_PARALLEL_PER_PARTNER)

    async def _timed_post(self, partner: Partner, item: store.DueDelivery) -> tuple[str, str, float]:
        started = time.perf_counter()
        verdict, detail = await self._post(partner, item)
        return verdict, detail, (time.perf_counter() - started) * 1000

    async def _post(self, partner: Partner, item: store.DueDelivery) -> tuple[str, str]:
        request = partner_pb2.PostRequest(
            idempotency_key=types_pb2.IdempotencyKey(value=item.lead_id),
            lead_id=item.lead_id,
            applicant_ref=types_pb2.CustomerRef(ref=item.applicant_ref),
            applicant=partner_pb2.MaskedApplicant.FromString(base64.b64decode(item.masked_applicant)),
            price=types_pb2.Money(fen=item.price_fen),
            source_channel=item.source_channel,
        )
        with client_span("router", POST, partner=partner.id, lead_id=item.lead_id) as span:
            try:
                answer = await self.desk.channels.stub(partner).Post(
                    request,
                    timeout=self.desk.config.delivery.attempt_timeout_ms / 1000,
                    metadata=span.metadata or None,  # traceparent, when tracing is on
                )
            except grpc.aio.AioRpcError as err:
                span.set_status(err.code().name)
                return FAILED, err.code().name
            span.set_status("OK")
        if answer.result == partner_pb2.PostResponse.ACCEPTED:
            return ACCEPTED, answer.partner_reference
        if answer.result == partner_pb2.PostResponse.REJECTED:
            return REJECTED, answer.reason or "REJECTED"
        return FAILED, "UNSPECIFIED_RESULT"

    def _report(self, attempts: list[Attempt], recorded: set[str], dead: set[str]) -> None:
        """Counts and logs the round's verdicts, once they are committed."""
        telemetry = self.telemetry
        for attempt in attempts:
            item = attempt.item
            if attempt.verdict == FAILED and item.delivery_id in dead:
                telemetry.dead_lettered(
                    item.partner_id, item.lead_id, item.delivery_id, item.attempts + 1, attempt.detail
                )
            elif attempt.verdict == FAILED:
                telemetry.failed(item.partner_id)
            elif item.delivery_id not in recorded:
                continue  # skipped (no attempt), or finished by another process meanwhile
            elif attempt.verdict == ACCEPTED:
                telemetry.delivered(item.partner_id, item.lead_id, item.delivery_id, item.attempts + 1, item.price_fen)
            elif attempt.verdict == REJECTED:
                telemetry.rejected(item.partner_id)

    async def _record_accepted(
        self, session: AsyncSession, items: list[store.DueDelivery], recorded: set[str]
    ) -> list[tuple[str, str, int, int]]:
        """Accepted posts, all at once: deliveries done, cap reservations committed, leads posted, learned.
        The deliveries marked delivered are added to `recorded`."""
        if not items:
            return []
        now, dialect = self.desk.clock.now(), self.desk.db.dialect
        moved = await store.mark_delivered(session, [i.delivery_id for i in items], now)
        recorded.update(moved)
        done = [i for i in items if i.delivery_id in moved]
        caps: dict[tuple[str, str], int] = defaultdict(int)
        per_tier: dict[tuple[str, str], int] = defaultdict(int)
        per_partner: dict[str, int] = defaultdict(int)
        for i in done:
            for key in i.cap_keys:
                caps[(i.partner_id, key)] += 1
            per_tier[(i.partner_id, i.tier)] += 1
            per_partner[i.partner_id] += 1
        await store.commit_caps_many(session, caps)
        await store.post_leads(session, [(i.lead_id, i.partner_id, i.price_fen) for i in done], now)
        for (partner_id, tier), n in sorted(per_tier.items()):
            await store.bump_estimate(session, dialect, partner_id, tier, accept_s=n)
        for partner_id, n in sorted(per_partner.items()):
            await store.count_accepted(session, dialect, partner_id, n)
        return [(p, t, n, 0) for (p, t), n in per_tier.items()]

    async def _record_retries(self, session: AsyncSession, attempts: list[Attempt]) -> set[str]:
        """Failed attempts get backoff with full jitter (or become dead letters); skipped ones wait.
        Returns the deliveries that became dead letters."""
        now = self.desk.clock.now()
        delivery = self.desk.config.delivery
        rows = []
        dead: set[str] = set()
        for a in attempts:
            item = a.item
            row = {"b_id": item.delivery_id, "b_status": store.PENDING, "b_error": a.detail[:300], "b_dead": None}
            if a.verdict == SKIPPED:  # not an attempt: wait for the circuit to half-open or the partner to return
                rows.append({**row, "b_attempts": item.attempts, "b_next": self._skipped_until(a, now)})
                continue
            attempts_made = item.attempts + 1
            if attempts_made >= delivery.max_attempts:
                rows.append({**row, "b_status": store.DEAD, "b_attempts": attempts_made, "b_next": now, "b_dead": now})
                dead.add(item.delivery_id)
                continue
            wait = full_jitter_backoff(
                attempts_made,
                timedelta(milliseconds=delivery.base_backoff_ms),
                timedelta(milliseconds=delivery.max_backoff_ms),
                self.rng,
            )
            rows.append({**row, "b_attempts": attempts_made, "b_next": now + wait})
        await store.reschedule(session, rows, now)
        return dead

    def _skipped_until(self, attempt: Attempt, now: datetime) -> datetime:
        """A row skipped by an open circuit comes due the moment the half-open probe may go (not a whole
        open period after it was skipped), so the probe, and the queue behind it, leave promptly."""
        if attempt.detail == CIRCUIT_OPEN:
            return self.desk.breaker.next_call_at(attempt.item.partner_id, now)
        return now + timedelta(minutes=5)  # unknown partner: wait for a config change

    async def _fallbacks(self, session: AsyncSession, lead: Any, tried: set[str], now: datetime) -> list[Candidate]:
        """The lead's planned fallbacks that may still get a post: not tried, circuit closed, standing kept
        (consent and eligibility were checked at selection), and the partner's acceptance window (from its
        ping) not passed."""
        desk, config = self.desk, self.desk.config
        partners = config.by_id()
        pinged: dict[str, datetime] | None = None
        candidates = []
        for partner_id, price, ev in json.loads(lead.fallbacks):
            partner = partners.get(partner_id)
            if partner is None or partner_id in tried or desk.breaker.is_open(partner_id, now):
                continue
            if standing_reason(partner, lead.tier, config) is not None:
                continue
            if partner.accept_window_seconds is not None:
                pinged = pinged if pinged is not None else await store.ping_times(session, lead.lead_id)
                at = pinged.get(partner_id)
                if at is not None and (now - at).total_seconds() > partner.accept_window_seconds:
                    continue  # its bid has lapsed
            candidates.append(Candidate(partner_id, price, ev))
        return candidates

    async def _rejected(self, session: AsyncSession, item: store.DueDelivery, reason: str, now: datetime) -> bool:
        desk = self.desk
        config = desk.config
        if not await store.set_delivery(
            session, item.delivery_id, now, status=store.REJECTED, attempts=item.attempts + 1, last_error=reason[:300]
        ):
            return False
        await store.release_caps(session, item.partner_id, item.cap_keys)
        await store.bump_estimate(session, desk.db.dialect, item.partner_id, item.tier, accept_f=1)
        next_partner = ""
        lead = await store.load_lead(session, item.lead_id, for_update=desk.db.dialect == "postgresql")
        tried = await store.tried_partners(session, item.lead_id)
        max_posts = config.max_posts_per_lead
        if lead is not None and now < lead.offer_expires_at and (max_posts is None or len(tried) < max_posts):
            remaining: list[list[object]] = []
            candidates = await self._fallbacks(session, lead, tried, now)
            (choice,) = await desk.choose(session, [candidates])
            if choice.chosen is not None:
                next_partner = choice.chosen.partner_id
                delivery = store.NewDelivery(
                    uuid.uuid4().hex, next_partner, choice.chosen.price_fen, choice.cap_keys, seq=len(tried)
                )
                await store.add_delivery(session, item.lead_id, delivery, now)
                remaining = [[c.partner_id, c.price_fen, c.expected_value_fen] for c in choice.fallbacks]
            if next_partner:
                await store.update_lead(
                    session, item.lead_id, partner_id=next_partner, fallbacks=json.dumps(remaining), updated_at=now
                )
        if not next_partner:
            await store.update_lead(session, item.lead_id, status=store.UNSOLD, partner_id=None, updated_at=now)
        log.debug(
            "lead_post_rejected", lead_id=item.lead_id, partner=item.partner_id, next_partner=next_partner or None
        )
        return True
