"""`skylane router simulate`: what a lead is worth under each selection policy, against an upper bound.

Every policy meets the same market (services/router/sim/market.py: the same applicants, pings and coin
flips) and goes through the router's real partner code: eligibility and consent (`prefilter`), pricing and
ranking (`rank`), for the learned policy the planner and estimator the desk runs (`selection.plan_learned`,
`estimates.ContextualEstimator`, `selection.Pacer`), and the production rules of delivery: caps reserved
when a post is chosen (calendar windows in the cap time zone, `cap_window_keys`), released on rejection,
kept on acceptance; a capped partner skipped for the next; a rejected lead offered to the next planned
bidder while its offer window is open; a post that could no longer start within its partner's acceptance
window skipped. Posts take the partner's decision time and funding outcomes arrive when the partner reports
them (days later, if the scenario says so), so the learner sees them then — never the true rates.

Value. A lead is worth its price when the partner that accepted it funds the loan. Each policy's value is
reported as the sum, over the posts it made, of the true P(accept) × P(fund) × price at that moment: the
expected revenue of its decisions, an unbiased and lower-variance estimate of its realized revenue (which
is reported too).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from services.router.partners.config import CAP_WINDOWS, CapWindow, PartnersConfig
from services.router.partners.domain import (
    Candidate,
    EstimateBook,
    Scorer,
    cap_window_keys,
    cap_window_left,
    rank,
    waterfall_scorer,
)
from services.router.partners.estimates import ContextualEstimator, Priors
from services.router.partners.selection import BookEstimator, CapRoom, ChainLimits, Pacer, plan_learned
from services.router.sim.market import Market, SimLead

CURVE_POINTS = 40


@dataclass
class RunResult:
    name: str
    leads: int = 0
    posts: int = 0
    sold: int = 0
    funded: int = 0
    expected_fen: float = 0.0
    realized_fen: int = 0
    curve: list[float] = field(default_factory=list)  # value per lead in each 1/CURVE_POINTS of the run

    @property
    def value_per_lead(self) -> float:
        return self.expected_fen / self.leads if self.leads else 0.0

    @property
    def realized_per_lead(self) -> float:
        return self.realized_fen / self.leads if self.leads else 0.0


def _quarter_hour_offsets(market: Market) -> bool:
    """Whether the cap zone's offset from UTC is a whole number of quarter hours on every day of the run."""
    for day in range(int(market.scenario.days) + 2):
        offset = (market.start + timedelta(days=day)).astimezone(market.zone).utcoffset()
        if offset is None or offset.total_seconds() % 900:
            return False
    return True


class CapBook:
    """Cap usage as the desk keeps it: reservations plus accepted leads per (partner, window key)."""

    def __init__(self, registry: PartnersConfig, market: Market) -> None:
        self.limits = {p.id: p.caps.limits() for p in registry.lenders if p.caps.limits()}
        self.zone = registry.caps_timezone
        self.market = market
        self.used: dict[tuple[str, str], int] = {}
        self._keys: dict[int, dict[CapWindow, str]] = {}
        # Window keys are cached per 15 minutes of UTC, which holds where the zone's offset from UTC is a
        # whole number of quarter hours throughout the run (every offset in use today; not a local mean time
        # of the 19th century, +08:05:43 in Shanghai): elsewhere they are worked out for every lead.
        self._bucket_s = 900 if _quarter_hour_offsets(market) else 0

    def keys(self, partner_id: str, t: float) -> list[tuple[str, int]]:
        limits = self.limits.get(partner_id)
        if not limits:
            return []
        names = self._window_names(t)
        return [(f"{kind}:{names[kind]}", cap) for kind, cap in limits.items()]

    def _window_names(self, t: float) -> dict[CapWindow, str]:
        if not self._bucket_s:
            return cap_window_keys(self.market.time(t), self.zone, CAP_WINDOWS)
        bucket = int((self.market.start.timestamp() + t) // self._bucket_s)
        names = self._keys.get(bucket)
        if names is None:
            names = self._keys[bucket] = cap_window_keys(self.market.time(t), self.zone, CAP_WINDOWS)
        return names

    def room(self, partner_id: str, t: float) -> bool:
        return all(self.used.get((partner_id, k), 0) + 1 <= cap for k, cap in self.keys(partner_id, t))

    def reserve(self, partner_id: str, t: float) -> list[str]:
        keys = [k for k, _ in self.keys(partner_id, t)]
        for k in keys:
            self.used[(partner_id, k)] = self.used.get((partner_id, k), 0) + 1
        return keys

    def release(self, partner_id: str, keys: list[str]) -> None:
        for k in keys:
            self.used[(partner_id, k)] -= 1

    def remaining(self, partner_id: str, t: float) -> list[tuple[int, float]]:
        """(room left, seconds until the window ends) for each capped window of the partner."""
        now = self.market.time(t)
        return [
            (cap - self.used.get((partner_id, key), 0), cap_window_left(now, self.zone, kind))
            for (key, cap), kind in zip(self.keys(partner_id, t), self.limits[partner_id], strict=True)
        ]

    def room_now(self, partner_ids: set[str], t: float) -> CapRoom:
        """What the desk reads of its capped partners at ranking time."""
        return CapRoom({pid: self.remaining(pid, t) for pid in partner_ids})


# --- policies ----------------------------------------------------------------------------------------


class Policy:
    """A selection policy as the simulator drives it."""

    name = "policy"

    def order(self, lead: SimLead, t: float, caps: CapBook) -> list[Candidate]:
        raise NotImplementedError

    def verdict(self, lead: SimLead, partner_id: str, price: int, accepted: bool, t: float, ms: float) -> None:
        """A post's answer (the learner's acceptance data)."""

    def outcome(self, lead: SimLead, funded: bool, t: float) -> None:
        """A funding outcome reported by the partner (the learner's funding data)."""


class StaticPolicy(Policy):
    def __init__(
        self,
        name: str,
        registry: PartnersConfig,
        scorer_for: Callable[[str], Scorer],
        left_out: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        self.name, self.partners, self.scorer_for = name, registry.by_id(), scorer_for
        self.left_out = left_out or {}  # per tier: partners never posted (not in the tier's lender entry)

    def order(self, lead: SimLead, t: float, caps: CapBook) -> list[Candidate]:
        tier = lead.applicant.tier
        ranked, _ = rank(lead.applicant, self.partners, lead.pings, self.scorer_for(tier))
        left_out = self.left_out.get(tier, ())
        return [c for c in ranked if c.partner_id not in left_out]


def highest_bid(registry: PartnersConfig) -> StaticPolicy:
    return StaticPolicy("highest bid", registry, lambda _tier: lambda _pid, _tier2, price: float(price))


def configured_waterfall(registry: PartnersConfig) -> StaticPolicy:
    return StaticPolicy(
        "configured waterfall", registry, lambda tier: waterfall_scorer(registry.waterfall.get(tier, []))
    )


def static_orders(
    name: str, registry: PartnersConfig, orders: dict[str, list[str]], left_out: Mapping[str, Collection[str]]
) -> StaticPolicy:
    """Each tier's partners in the given order, those left out of the tier never posted (bidders the list
    neither names nor leaves out come after, by price, as a waterfall ranks them)."""
    return StaticPolicy(name, registry, lambda tier: waterfall_scorer(orders.get(tier, [])), left_out)


class LearnedPolicy(Policy):
    """The production planner with a learned estimator; never sees the market's truth."""

    name = "learned"

    def __init__(
        self,
        registry: PartnersConfig,
        limits: ChainLimits,
        start: float,
        seed: int,
        *,
        estimator: str = "contextual",
        priors: Priors | None = None,
    ) -> None:
        self.partners = registry.by_id()
        self.limits, self.start = limits, start
        self.rng = random.Random(seed * 7919 + 1)
        self.book = EstimateBook()
        self.learner = ContextualEstimator(priors or Priors())
        self.estimator = self.learner if estimator == "contextual" else BookEstimator(self.book)
        self.pacer = Pacer()
        self.capped = {p.id for p in registry.lenders if p.caps.limits()}

    def order(self, lead: SimLead, t: float, caps: CapBook) -> list[Candidate]:
        at = self.start + t
        room = caps.room_now({p.partner_id for p in lead.pings if p.partner_id in self.capped}, t)

        def planner(candidates: list[Candidate]) -> list[Candidate]:
            return plan_learned(
                lead.applicant,
                candidates,
                self.estimator,
                self.limits,
                at=at,
                rng=self.rng,
                pacer=self.pacer,
                caps=room,
            )

        ranked, _ = rank(lead.applicant, self.partners, lead.pings, None, planner=planner)
        return ranked

    def verdict(self, lead: SimLead, partner_id: str, price: int, accepted: bool, t: float, ms: float) -> None:
        self.learner.observe_post(
            lead.lead_id, partner_id, lead.applicant, price, accepted=accepted, at=self.start + t, decision_ms=ms
        )
        self.book.add(partner_id, lead.applicant.tier, accept_s=int(accepted), accept_f=int(not accepted))

    def outcome(self, lead: SimLead, funded: bool, t: float) -> None:
        pending = self.learner.pending.get(lead.lead_id)
        if pending is not None:
            self.book.add(pending.partner_id, lead.applicant.tier, fund_s=int(funded), fund_f=int(not funded))
        self.learner.observe_outcome(lead.lead_id, funded=funded, at=self.start + t)


# --- one run -----------------------------------------------------------------------------------------


@dataclass
class _Chain:
    lead: SimLead
    ranked: list[Candidate]
    next: int = 0
    posts: int = 0
    elapsed_ms: float = 0.0


def chain_limits(market: Market) -> ChainLimits:
    """What the router knows of the chain: config and contract terms (never rates). The registry's limits,
    as production reads them (`ChainLimits.of`), where the scenario's `chain:` and its partners'
    `accept_window_s` do not set their own: a registry's `max_posts_per_lead`, `post_cost_fen` and lenders'
    `accept_window_seconds` bind the simulated router as they bind the real one."""
    sc, registry = market.scenario, ChainLimits.of(market.registry)
    budget = registry.time_budget_ms if sc.chain.time_budget_s is None else sc.chain.time_budget_s * 1000
    windows = {**registry.windows_ms, **{p.id: p.accept_window_s * 1000 for p in sc.partners if p.accept_window_s}}
    return ChainLimits(
        registry.max_posts if sc.chain.max_posts is None else sc.chain.max_posts,
        budget,
        registry.post_cost_fen if sc.chain.post_cost_fen is None else sc.chain.post_cost_fen,
        windows,
    )


class _Run:
    """One policy through the whole market, in event order: arrivals, post verdicts, funding reports."""

    def __init__(self, policy: Policy, market: Market) -> None:
        self.policy, self.market = policy, market
        self.limits = chain_limits(market)
        self.caps = CapBook(market.registry, market)
        self.result = RunResult(policy.name, curve=[0.0] * CURVE_POINTS)
        self.counts = [0] * CURVE_POINTS
        self.events: list[tuple[float, int, int, Any]] = []  # (time, seq, kind, payload)
        self.seq = 0

    def push(self, t: float, kind: int, payload: Any) -> None:
        heapq.heappush(self.events, (t, self.seq, kind, payload))
        self.seq += 1

    def _may_post(self, chain: _Chain) -> bool:
        limits = self.limits
        if limits.max_posts is not None and chain.posts >= limits.max_posts:
            return False
        return not (chain.posts and limits.time_budget_ms is not None and chain.elapsed_ms >= limits.time_budget_ms)

    def post_next(self, chain: _Chain, t: float) -> None:
        """The next planned bidder that may still be posted to: its bid not lapsed, its caps with room."""
        lead, limits, caps = chain.lead, self.limits, self.caps
        while chain.next < len(chain.ranked) and self._may_post(chain):
            c = chain.ranked[chain.next]
            chain.next += 1
            window = limits.window(c.partner_id)
            truth = lead.truth.get(c.partner_id)
            if (window is not None and chain.elapsed_ms > window) or truth is None or not caps.room(c.partner_id, t):
                continue  # lapsed bid, or capped: the next bidder (as the desk's choose() does)
            keys = caps.reserve(c.partner_id, t)
            chain.posts += 1
            ev = truth.accept * truth.fund * c.price_fen - limits.post_cost_fen
            self.result.posts += 1
            self.result.expected_fen += ev
            self.result.curve[lead.index * CURVE_POINTS // len(self.market.leads)] += ev
            self.push(t + truth.post_ms / 1000, VERDICT, (chain, c, keys))
            return

    def verdict(self, chain: _Chain, c: Candidate, keys: list[str], t: float) -> None:
        lead, result = chain.lead, self.result
        truth = lead.truth[c.partner_id]
        chain.elapsed_ms += truth.post_ms
        accepted = truth.u_accept < truth.accept
        self.policy.verdict(lead, c.partner_id, c.price_fen, accepted, t, truth.post_ms)
        if not accepted:
            self.caps.release(c.partner_id, keys)
            self.post_next(chain, t)
            return
        result.sold += 1
        funded = truth.u_fund < truth.fund
        if funded:
            result.funded += 1
            result.realized_fen += c.price_fen
        self.push(t + truth.fund_delay_s, OUTCOME, (lead, funded))

    def drain(self, until: float) -> None:
        while self.events and self.events[0][0] <= until:
            t, _, kind, payload = heapq.heappop(self.events)
            if kind == VERDICT:
                self.verdict(payload[0], payload[1], payload[2], t)
            else:
                self.policy.outcome(payload[0], payload[1], t)

    def __call__(self, on_progress: Callable[[int], None] | None) -> RunResult:
        n = len(self.market.leads)
        for lead in self.market.leads:
            self.drain(lead.at)
            self.result.leads += 1
            self.counts[lead.index * CURVE_POINTS // n] += 1
            ranked = self.policy.order(lead, lead.at, self.caps)
            self.post_next(_Chain(lead, ranked), lead.at)
            self.drain(lead.at)
            if on_progress is not None:
                on_progress(1)
        self.drain(float("inf"))
        self.result.curve = [v / c if c else 0.0 for v, c in zip(self.result.curve, self.counts, strict=True)]
        return self.result


VERDICT, OUTCOME = 0, 1


def run(policy: Policy, market: Market, on_progress: Callable[[int], None] | None = None) -> RunResult:
    """One policy through the whole market (see _Run)."""
    return _Run(policy, market)(on_progress)


def run_all(
    market: Market,
    policies: Sequence[Policy],
    on_progress: Callable[[int], None] | None = None,
) -> list[RunResult]:
    return [run(p, market, on_progress) for p in policies]
