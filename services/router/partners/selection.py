"""The selection objective of post-with-fallback, and the pacing of capped partners.

A lead is posted to one bidder after another until one accepts. With acceptance probability a and value
if accepted v = price × P(fund | accepted), two bidders A, B in that order are worth
a·v_A + (1 − a)·b·v_B; swapping them changes the value by a·b·(v_B − v_A), so an unlimited chain is
ordered by v (acceptance only filters). What makes acceptance matter is what limits a real chain:

* a maximum number of posts per lead;
* a time budget (the offer window): a post may start only while the lead's window is open, and each post
  takes the partner's decision time;
* a partner's acceptance window: its bid is good for a post that starts within so long of the ping;
* a cost per post (a fee, or the goodwill a rejection costs), which moves the order key to v − c/a;
* caps: a capped partner's value carries a shadow price λ (what its capacity is worth to other leads).

`best_chain` returns the order that maximises the lead's expected value under those limits: exactly, by
dynamic programming over v-sorted bidders when no time limit can bind, by a DP over posted subsets when
one can (elapsed time is then a function of the set already posted). `chain_value` evaluates any order the
way the dispatcher executes it. Pure functions, no I/O: the desk, the dispatcher's fallback and
`skylane router simulate` run the same code.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from services.router.partners.config import PartnersConfig
from services.router.partners.domain import Candidate, EstimateBook, LeadApplicant

EXACT_LIMIT = 10  # bidders beyond this (only when a time limit binds) are cut to the best by order key


@dataclass(frozen=True)
class ChainLimits:
    """What limits one lead's chain of posts (None = no such limit)."""

    max_posts: int | None = None
    time_budget_ms: float | None = None
    post_cost_fen: float = 0.0
    windows_ms: Mapping[str, float] = field(default_factory=dict)  # partner id → acceptance window

    def window(self, partner_id: str) -> float | None:
        return self.windows_ms.get(partner_id)

    @staticmethod
    def of(config: PartnersConfig) -> ChainLimits:
        """The limits the registry sets: the offer window is the chain's time budget, `max_posts_per_lead`,
        `post_cost_fen`, and each partner's `accept_window_seconds`."""
        windows = {p.id: p.accept_window_seconds * 1000.0 for p in config.lenders if p.accept_window_seconds}
        return ChainLimits(
            config.max_posts_per_lead,
            config.offer_window_seconds * 1000.0,
            float(config.post_cost_fen),
            windows,
        )


@dataclass(frozen=True)
class Offer:
    """One bidder as the planner sees it: price, P(accept), P(fund | accepted), decision time, shadow price."""

    partner_id: str
    price_fen: float
    accept: float
    fund: float
    post_ms: float = 0.0
    shadow_fen: float = 0.0

    @property
    def value(self) -> float:
        """Value if accepted, net of the capacity it uses."""
        return self.price_fen * self.fund - self.shadow_fen


@dataclass(frozen=True)
class Chain:
    order: tuple[int, ...]  # indexes into the offers, in posting order
    value: float  # expected value of the lead under this order
    accept_share: tuple[float, ...]  # P(the lead ends with this offer), same positions as order
    exact: bool = True


def _feasible(offer: Offer, posts: int, elapsed: float, limits: ChainLimits) -> bool:
    if limits.max_posts is not None and posts >= limits.max_posts:
        return False
    if posts and limits.time_budget_ms is not None and elapsed >= limits.time_budget_ms:
        return False
    window = limits.window(offer.partner_id)
    return window is None or elapsed <= window


def chain_value(offers: Sequence[Offer], order: Sequence[int], limits: ChainLimits) -> Chain:
    """Executes an order as the dispatcher does: a post that can no longer start (window passed) is skipped,
    the chain stops at the post limit or when the time budget is spent."""
    reach, elapsed, posts, value = 1.0, 0.0, 0, 0.0
    done: list[int] = []
    shares: list[float] = []
    for i in order:
        o = offers[i]
        if limits.max_posts is not None and posts >= limits.max_posts:
            break
        if posts and limits.time_budget_ms is not None and elapsed >= limits.time_budget_ms:
            break
        if not _feasible(o, posts, elapsed, limits):
            continue
        value += reach * (o.accept * o.value - limits.post_cost_fen)
        done.append(i)
        shares.append(reach * o.accept)
        reach *= 1 - o.accept
        elapsed += o.post_ms
        posts += 1
    return Chain(tuple(done), value, tuple(shares))


def _key(o: Offer, cost: float) -> float:
    return o.value - cost / o.accept if o.accept > 0 else -math.inf


def _time_can_bind(offers: Sequence[Offer], limits: ChainLimits) -> bool:
    windows = [w for o in offers if (w := limits.window(o.partner_id)) is not None]
    if limits.time_budget_ms is None and not windows:
        return False
    depth = len(offers) if limits.max_posts is None else min(len(offers), limits.max_posts)
    # The latest a post can start: after the depth-1 slowest others.
    latest = sum(sorted((o.post_ms for o in offers), reverse=True)[: max(depth - 1, 0)])
    if limits.time_budget_ms is not None and latest >= limits.time_budget_ms:
        return True
    return any(latest > w for w in windows)


def best_chain(offers: Sequence[Offer], limits: ChainLimits) -> Chain:
    """The order of `offers` with the highest expected value under `limits` (see the module doc)."""
    cost = limits.post_cost_fen
    useful = [i for i, o in enumerate(offers) if o.accept > 0 and o.accept * o.value - cost > 0]
    if not useful:
        return Chain((), 0.0, ())
    useful.sort(key=lambda i: (-_key(offers[i], cost), offers[i].partner_id))
    if not _time_can_bind([offers[i] for i in useful], limits):
        return _sorted_dp(offers, useful, limits)
    exact = len(useful) <= EXACT_LIMIT
    return _subset_dp(offers, useful[:EXACT_LIMIT], limits, exact)


def _sorted_dp(offers: Sequence[Offer], ranked: list[int], limits: ChainLimits) -> Chain:
    """Within any set the best order is by key v − c/a (adjacent exchange), so with only a post limit the
    best chain is the best subsequence of the key-sorted list of at most max_posts: W(i, k)."""
    cost = limits.post_cost_fen
    n = len(ranked)
    k_max = n if limits.max_posts is None else min(n, limits.max_posts)
    if k_max >= n:
        return chain_value(offers, ranked, limits)
    # w[k] = best value of the suffix starting at i with k posts left; take[i][k] = post offer i?
    w = [0.0] * (k_max + 1)
    take = [[False] * (k_max + 1) for _ in range(n)]
    for i in range(n - 1, -1, -1):
        o = offers[ranked[i]]
        gain = o.accept * o.value - cost
        new = w[:]
        for k in range(1, k_max + 1):
            with_it = gain + (1 - o.accept) * w[k - 1]
            if with_it > w[k]:
                new[k], take[i][k] = with_it, True
        w = new
    order, k = [], k_max
    for i in range(n):
        if k and take[i][k]:
            order.append(ranked[i])
            k -= 1
    return chain_value(offers, order, limits)


def _subset_dp(offers: Sequence[Offer], ranked: list[int], limits: ChainLimits, exact: bool) -> Chain:
    """Exact over every order of every subset of `ranked`: after posting set S (all rejected) the elapsed
    time is the sum of their decision times, so V(S) = max_j a_j·v_j − c + (1 − a_j)·V(S ∪ {j})."""
    n = len(ranked)
    items = [offers[i] for i in ranked]
    cost = limits.post_cost_fen
    memo: dict[int, tuple[float, int]] = {}

    def solve(mask: int, posts: int, elapsed: float) -> float:
        hit = memo.get(mask)
        if hit is not None:
            return hit[0]
        best, pick = 0.0, -1
        for j in range(n):
            bit = 1 << j
            if mask & bit:
                continue
            o = items[j]
            if not _feasible(o, posts, elapsed, limits):
                continue
            v = o.accept * o.value - cost + (1 - o.accept) * solve(mask | bit, posts + 1, elapsed + o.post_ms)
            if v > best:
                best, pick = v, j
        memo[mask] = (best, pick)
        return best

    solve(0, 0, 0.0)
    order, mask = [], 0
    while True:
        _, pick = memo.get(mask, (0.0, -1))
        if pick < 0:
            break
        order.append(ranked[pick])
        mask |= 1 << pick
    chain = chain_value(offers, order, limits)
    return Chain(chain.order, chain.value, chain.accept_share, exact)


# --- estimators: what the planner believes of a bidder ----------------------------------------------


@dataclass(frozen=True)
class Belief:
    accept: float
    fund: float
    post_ms: float = 0.0


class Estimator(Protocol):
    """P(accept) and P(fund | accepted) of a partner for a lead and price: a Thompson draw when rng is
    given, the posterior mean otherwise."""

    def belief(
        self, partner_id: str, applicant: LeadApplicant, price_fen: int, at: float, rng: random.Random | None
    ) -> Belief: ...


class BookEstimator:
    """Per (partner, tier) Beta posteriors from the persisted counts (EstimateBook): what the router can
    use while outcomes are not yet reported with the lead's features."""

    def __init__(self, book: EstimateBook) -> None:
        self.book = book

    def belief(
        self, partner_id: str, applicant: LeadApplicant, price_fen: int, at: float, rng: random.Random | None
    ) -> Belief:
        c = self.book.get(partner_id, applicant.tier)
        if rng is None:
            return Belief(c.mean_accept(), c.mean_fund())
        return Belief(rng.betavariate(1 + c.accept_s, 1 + c.accept_f), rng.betavariate(1 + c.fund_s, 1 + c.fund_f))


# --- caps: shadow prices ------------------------------------------------------------------------------


@dataclass
class _CapState:
    shadow: float = 0.0
    value_scale: float = 0.0  # running mean of the partner's value if accepted (fen)


@dataclass
class _HourRates:
    """Bids per hour of the day (UTC hours: a time zone only shifts the profile), averaged over days."""

    per_hour: list[float] = field(default_factory=lambda: [0.0] * 24)
    seen: list[bool] = field(default_factory=lambda: [False] * 24)
    hour: int = -1
    n: int = 0

    def count(self, at: float) -> None:
        hour = int(at // 3600)
        if self.hour < 0:
            self.hour = hour
        while self.hour < hour:  # close the hours that ended (with no bids in the silent ones)
            h = self.hour % 24
            self.per_hour[h] = self.n if not self.seen[h] else 0.6 * self.per_hour[h] + 0.4 * self.n
            self.seen[h] = True
            self.hour += 1
            self.n = 0
            if hour - self.hour > 24 * 7:  # a long silence: skip ahead
                self.hour = hour
        self.n += 1


@dataclass
class Pacer:
    """Shadow prices of capped partners by dual descent (Balseiro, Lu & Mirrokni, "Dual mirror descent for
    online allocation problems", 2020): after each lead, λ moves up by how much the planned chain's
    expected acceptances of the partner exceed the pace its remaining cap allows (remaining cap over the
    bids still expected in the cap window), and down when below. A partner whose cap never binds keeps
    λ = 0 and is planned at its full value; one whose cap binds is saved for the leads where it adds most.
    """

    step: float = 0.05
    horizon_s: float = 6 * 3600.0  # bid rates are averaged over about this long
    states: dict[str, _CapState] = field(default_factory=dict)
    _rates: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # partner → (rate, last, first)
    _hours: dict[str, _HourRates] = field(default_factory=dict)

    def saw_bid(self, partner_id: str, at: float) -> float:
        """Counts one bid of the partner; returns its bid rate per second (exponentially weighted)."""
        rate, last, first = self._rates.get(partner_id, (0.0, at, at))
        rate = rate * math.exp(-(at - last) / self.horizon_s) + 1.0 / self.horizon_s
        self._rates[partner_id] = (rate, at, first)
        self._hours.setdefault(partner_id, _HourRates()).count(at)
        warm = 1.0 - math.exp(-max(at - first, 1800.0) / self.horizon_s)  # bias of a young average
        return rate / warm

    def expected_bids(self, partner_id: str, at: float, seconds: float) -> float:
        """Bids of the partner expected over the next `seconds`: from its bid rate per hour of the day
        (learned over past days, so a window's evening peak is expected), else its recent rate."""
        rate, _, _ = self._rates.get(partner_id, (0.0, at, at))
        recent = self.saw_rate(partner_id, at) if rate else 0.0
        hours = self._hours.get(partner_id)
        if hours is None or sum(1 for x in hours.seen if x) < 24:
            return recent * seconds
        total, t, end = 0.0, at, at + seconds
        while t < end:
            next_hour = (math.floor(t / 3600) + 1) * 3600
            span = min(next_hour, end) - t
            total += hours.per_hour[int(t // 3600) % 24] * span / 3600
            t += span
        return total

    def saw_rate(self, partner_id: str, at: float) -> float:
        rate, last, first = self._rates[partner_id]
        warm = 1.0 - math.exp(-max(at - first, 1800.0) / self.horizon_s)
        return rate * math.exp(-(at - last) / self.horizon_s) / warm

    def shadow(self, partner_id: str) -> float:
        s = self.states.get(partner_id)
        return s.shadow if s else 0.0

    def update(self, partner_id: str, expected_accepts: float, pace: float, value: float) -> None:
        """One bid of a capped partner: `pace` = remaining cap / bids still expected in its tightest window."""
        s = self.states.setdefault(partner_id, _CapState(value_scale=max(value, 1.0)))
        s.value_scale += 0.01 * (max(value, 0.0) - s.value_scale)
        pace = min(max(pace, 0.0), 1.0)
        s.shadow = max(0.0, s.shadow + self.step * s.value_scale * (expected_accepts - pace))


# --- the planner behind RouteApplicant ------------------------------------------------------------


@dataclass(frozen=True)
class CapRoom:
    """Capped partners' room at ranking time: partner → [(leads left, this replica's share of them; seconds
    until the window ends)] for each of its capped windows. Partners not listed are not capped."""

    left: Mapping[str, Sequence[tuple[float, float]]] = field(default_factory=dict)

    def full(self, partner_id: str) -> bool:
        return any(room <= 0 for room, _ in self.left.get(partner_id, ()))


def plan(
    applicant: LeadApplicant,
    candidates: Sequence[Candidate],
    estimator: Estimator,
    limits: ChainLimits,
    *,
    at: float,
    rng: random.Random | None,
    pacer: Pacer | None = None,
) -> tuple[list[Candidate], Chain, list[Offer]]:
    """Orders priced bidders for post-with-fallback. Returns the planned chain (candidates in posting order,
    each carrying price × P(accept) × P(fund) as its expected value), the chain and the offers behind it."""
    offers: list[Offer] = []
    for c in candidates:
        b = estimator.belief(c.partner_id, applicant, c.price_fen, at, rng)
        shadow = pacer.shadow(c.partner_id) if pacer else 0.0
        offers.append(Offer(c.partner_id, c.price_fen, b.accept, b.fund, b.post_ms, shadow))
    chain = best_chain(offers, limits)
    ordered = [
        Candidate(
            candidates[i].partner_id, candidates[i].price_fen, offers[i].price_fen * offers[i].accept * offers[i].fund
        )
        for i in chain.order
    ]
    return ordered, chain, offers


def plan_learned(
    applicant: LeadApplicant,
    candidates: Sequence[Candidate],
    estimator: Estimator,
    limits: ChainLimits,
    *,
    at: float,
    rng: random.Random | None,
    pacer: Pacer,
    caps: CapRoom,
) -> list[Candidate]:
    """The learned policy, as RouteApplicant and `skylane router simulate` both run it: partners whose cap is
    full are left out (choose() would skip them), the rest planned on Thompson draws with capped partners
    valued net of their shadow price, and each capped bidder's shadow price then moved by the pace of the
    chain just planned (Pacer)."""
    open_ = [c for c in candidates if not caps.full(c.partner_id)]
    ordered, chain, offers = plan(applicant, open_, estimator, limits, at=at, rng=rng, pacer=pacer)
    share = {offers[i].partner_id: s for i, s in zip(chain.order, chain.accept_share, strict=True)}
    for o in offers:
        windows = caps.left.get(o.partner_id)
        if not windows:
            continue
        pacer.saw_bid(o.partner_id, at)
        pace = min(room / (pacer.expected_bids(o.partner_id, at, left) + 1.0) for room, left in windows)
        pacer.update(o.partner_id, share.get(o.partner_id, 0.0), pace, o.price_fen * o.fund)
    return ordered


def seconds(at: datetime) -> float:
    return at.timestamp()
