"""The partner desk: the state the partner use cases share (registry, partner channels, circuit breakers,
learned estimates, postback tokens) and the two selection steps every lead goes through.

Two steps, so no network call ever happens inside a database transaction:
  1. `offer()` — before the transaction: eligibility, parallel masked ping within the budget, ranking.
  2. `choose()` — inside the transaction that records the lead (leads.py): caps reserved in rank order.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.clock import Clock
from services.common.db import Database
from services.common.replica_share import TrafficShare
from services.router.partners import store
from services.router.partners.breaker import CircuitBreaker
from services.router.partners.channels import PartnerChannels
from services.router.partners.config import Partner, PartnersConfig
from services.router.partners.domain import (
    BID,
    CAPPED,
    NOT_PLANNED,
    Candidate,
    EstimateBook,
    LeadApplicant,
    PingResult,
    Planner,
    Scorer,
    TraceEntry,
    age_band,
    cap_window_keys,
    cap_window_left,
    prefilter,
    rank,
    score_band,
    thompson_scorer,
    waterfall_scorer,
)
from services.router.partners.estimates import ContextualEstimator, Features, Observation, band_features
from services.router.partners.ping import ping_all
from services.router.partners.selection import CapRoom, ChainLimits, Pacer, plan_learned
from skylane.common.v1 import types_pb2
from skylane.partner.v1 import partner_pb2

log = structlog.get_logger("skylane.router.partners")


@dataclass(frozen=True)
class PreparedOffer:
    """Result of step 1: everything recording the lead needs, computed without touching the database."""

    lead_id: str
    applicant: LeadApplicant
    masked: partner_pb2.MaskedApplicant
    policy: str
    ranked: list[Candidate]
    trace: list[TraceEntry]
    pings: list[PingResult]


@dataclass
class Choice:
    """Which ranked candidate got the lead (caps reserved), which were capped, who is left as fallback."""

    chosen: Candidate | None
    cap_keys: list[str]
    capped: list[str]
    fallbacks: list[Candidate]


def masked_features(masked: partner_pb2.MaskedApplicant, channel: str) -> Features:
    """The lead's bands as the estimates see them, from what partners were shown and the source channel."""
    return band_features(
        masked.tier, masked.score_band, masked.requested_amount.fen, masked.region, channel, masked.age_band
    )


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


# Another replica's observation whose transaction commits this long after it was observed is still taken in.
TAKE_IN_LAG_S = 60.0
PRUNE_EVERY_S = 3600.0  # observations past the learner's memory are deleted about this often


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


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
        self.estimates = EstimateBook()  # per-(partner, tier) counts: reports and the `waterfall` fallback
        self.learner = ContextualEstimator()  # what the learned policy plans on (estimates.py)
        self.pacer = Pacer()  # shadow prices of capped partners
        self.traffic = TrafficShare()  # this replica's share of the leads: the part of shared caps it paces
        self.replica = uuid.uuid4().hex  # marks the observations this process learned live
        self.taken: dict[int, float] = {}  # other replicas' observations applied lately: id → observed at
        self.taken_from = self.pruned_at = 0.0

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
        """The persisted estimates; the contextual learner replays its logged observations (those it still
        remembers; older ones are pruned), so a restart keeps what was learned, pending outcomes included."""
        learner = ContextualEstimator()
        now = self.clock.now().timestamp()
        await self._prune(now, learner.memory_s)
        async with self.db.read() as session:
            self.estimates = await store.load_estimates(session)
            rows = await store.load_observations(session, _utc(now - learner.memory_s))
        for _id, o in rows:
            learner.apply(o)
        self.learner = learner
        self.taken_from = now
        self.taken = {i: o.at for i, o in rows if o.at >= now - TAKE_IN_LAG_S - 1}

    async def take_in(self) -> int:
        """What other replicas learned live since the last take-in (their logged observations), into this
        process's learner, and the persisted per-tier estimates; returns how many observations.

        Incremental: each replica's observations are applied once, by id, so nothing is replayed. Rows are
        read from `TAKE_IN_LAG_S` before the last take-in, so an observation whose transaction committed up
        to that long after it was made is still taken in."""
        now = self.clock.now().timestamp()
        if now - self.pruned_at >= PRUNE_EVERY_S:
            await self._prune(now, self.learner.memory_s)
        async with self.db.read() as session:
            self.estimates = await store.load_estimates(session)
            since = _utc(self.taken_from - TAKE_IN_LAG_S)
            rows = await store.load_observations(session, since, not_by=self.replica, skip=self.taken)
        for i, o in rows:
            self.learner.apply(o)
            self.taken[i] = o.at
        self.taken_from = now
        horizon = now - TAKE_IN_LAG_S - 1  # older ids fall before the next read's window
        self.taken = {i: at for i, at in self.taken.items() if at >= horizon}
        return len(rows)

    async def _prune(self, now: float, memory_s: float) -> None:
        async with self.db.transaction() as session:
            await store.prune_observations(session, _utc(now - memory_s))
        self.pruned_at = now

    def learn(self, observations: Sequence[Observation]) -> None:
        """Feeds committed observations (already logged by the caller's transaction) to the learner."""
        for o in observations:
            self.learner.apply(o)

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

    def planner(self, applicant: LeadApplicant, caps: CapRoom) -> Planner:
        """The learned policy: bidders in the order that maximises the lead's expected value under
        post-with-fallback and the chain's limits, on Thompson draws of the contextual estimates, capped
        partners paced by shadow prices — `selection.plan_learned`, the code `skylane router simulate` runs."""
        limits = ChainLimits.of(self.config)
        at = self.clock.now().timestamp()

        def order(candidates: list[Candidate]) -> list[Candidate]:
            return plan_learned(
                applicant, candidates, self.learner, limits, at=at, rng=self.rng, pacer=self.pacer, caps=caps
            )

        return order

    async def cap_room(self, partners: Sequence[Partner]) -> CapRoom:
        """Room left now in the capped windows of these partners (a plain read; choose() enforces caps)."""
        config, now = self.config, self.clock.now()
        windows: list[tuple[str, str, int, float]] = []
        for p in partners:
            limits = p.caps.limits()
            if not limits:
                continue
            keys = cap_window_keys(now, config.caps_timezone, limits)
            for kind, cap in limits.items():
                windows.append((p.id, f"{kind}:{keys[kind]}", cap, cap_window_left(now, config.caps_timezone, kind)))
        if not windows:
            return CapRoom()
        async with self.db.read() as session:
            used = await store.cap_used(session, [(pid, key, cap) for pid, key, cap, _ in windows])
        # The pacer counts the bids this replica sees, so it paces with this replica's share of the room
        # the replicas have left together (a full cap stays full: the share is positive).
        left: dict[str, list[tuple[float, float]]] = {}
        for pid, key, cap, seconds_left in windows:
            left.setdefault(pid, []).append((self.traffic.of(cap - used.get((pid, key), 0)), seconds_left))
        return CapRoom(left)

    async def offer(self, applicant: LeadApplicant, *, lead_id: str | None = None) -> PreparedOffer:
        config = self.config
        now = self.clock.now()
        lead_id = lead_id or uuid.uuid4().hex
        self.traffic.note()
        eligible, skipped = prefilter(applicant, config, lambda pid: self.breaker.is_open(pid, now), now)
        masked = mask(applicant)
        pings = await ping_all(self.channels, eligible, lead_id, masked, config.ping_budget_ms)
        policy, scorer = self.scorer(applicant.tier)
        planner, caps = None, CapRoom()
        if policy == "thompson":
            bidders = {p.partner_id for p in pings if p.status == BID}
            caps = await self.cap_room([p for p in eligible if p.id in bidders])
            planner = self.planner(applicant, caps)
        ranked, ranked_trace = rank(applicant, config.by_id(), pings, None if planner else scorer, planner=planner)
        full = {pid for pid in caps.left if caps.full(pid)}  # left out of the plan: their cap is reached
        ranked_trace = [
            replace(e, status=CAPPED, detail="cap reached") if e.status == NOT_PLANNED and e.partner_id in full else e
            for e in ranked_trace
        ]
        order = {p.id: i for i, p in enumerate(config.lenders)}
        trace = sorted([*skipped, *ranked_trace], key=lambda e: order.get(e.partner_id, len(order)))
        return PreparedOffer(lead_id, applicant, masked, policy, ranked, trace, pings)

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
