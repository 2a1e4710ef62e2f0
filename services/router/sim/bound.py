"""Yardsticks computed from the market's truth: the upper bound and the best static waterfall in hindsight.

Upper bound. Given the true rates of every bidder of a lead, the best a policy can expect from that lead
is the best chain (`selection.best_chain`, exact): after a rejection nothing is learned about the other
partners of the same lead, so the best adaptive plan is a fixed order. Without binding caps the bound is
the sum over leads. With caps, leads compete for capacity; the bound is the LP relaxation over the run —
choose a mix of chains per lead maximising expected value subject to, for every capped partner and cap
window, expected acceptances ≤ cap — computed through its Lagrangian dual: for prices λ ≥ 0 on the cap
constraints, D(λ) = Σ_leads max_chain [value − Σ λ·P(accept)] + Σ λ·cap. Every λ ≥ 0 gives an upper bound
on every policy's expected value (weak duality; a policy's realized acceptances never exceed a cap, so
neither do their expectations); the minimum over λ equals the LP optimum. λ is searched coordinate by
coordinate (the dual is convex), and the smallest D found is reported.

Best static waterfall in hindsight: for each tier, the fixed partner list that would have earned the most
on this run's leads of that tier, given the true rates (chain limits and the cost of a post applied, caps
ignored). A desk may leave a partner out of a tier (its lender entry's `tiers`), and where every post
costs something it would leave out a partner whose posts lose money, so the search ranges over ordered
subsets: every ordered subset when a tier has at most 5 partners, otherwise local search (moving, leaving
out or putting back one partner) from the orders sorted by mean true value and by mean true expected
value, on a sample of the tier's leads (1,000, fewer for pools of more than 8 partners). Among lists that
earn the same, the longer one is kept, so with free posts the list names every partner.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.router.partners.domain import rank
from services.router.partners.selection import ChainLimits, Offer, best_chain, chain_value
from services.router.sim.engine import CapBook
from services.router.sim.market import Market, SimLead

BRUTE_FORCE_PARTNERS = 5
SEARCH_SAMPLE = 1000
SEARCH_BUDGET = 8000  # leads × partners searched per tier (the sample shrinks for big pools)
MAX_PASSES = 4


def true_offers(market: Market, lead: SimLead) -> list[Offer]:
    """The lead's priced bidders (the router's own eligibility and pricing) with their true rates."""
    partners = market.registry.by_id()
    candidates, _ = rank(lead.applicant, partners, lead.pings, lambda _p, _t, price: float(price))
    out = []
    for c in candidates:
        t = lead.truth.get(c.partner_id)
        if t is not None:
            out.append(Offer(c.partner_id, c.price_fen, t.accept, t.fund, t.post_ms))
    return out


@dataclass
class Bound:
    value_fen: float  # total over the run (an expectation)
    per_lead: list[float]  # expected value of each lead under the bound's plans (for the curve)
    shadows: dict[tuple[str, str], float] = field(default_factory=dict)
    caps_bind: bool = False
    exact: bool = True


def _with_shadows(offers: list[Offer], keys: list[list[str]], lam: dict[str, float]) -> list[Offer]:
    out = []
    for o, ks in zip(offers, keys, strict=True):
        shadow = sum(lam.get(k, 0.0) for k in ks)
        out.append(Offer(o.partner_id, o.price_fen, o.accept, o.fund, o.post_ms, shadow) if shadow else o)
    return out


class _Dual:
    """The Lagrangian dual of the cap constraints: per-lead best chains under shadow prices λ."""

    def __init__(
        self, limits: ChainLimits, cap_keys: Sequence[Sequence[list[str]]], offers: Sequence[list[Offer]]
    ) -> None:
        self.limits, self.cap_keys, self.offers = limits, cap_keys, offers
        self.lam: dict[str, float] = {}
        self.members: dict[str, list[int]] = defaultdict(list)
        for i, per_offer in enumerate(cap_keys):
            for k in {k for ks in per_offer for k in ks}:
                self.members[k].append(i)
        self.values = [0.0] * len(offers)
        self.shares: list[dict[str, float]] = [{} for _ in offers]
        self.exact = True
        for i in range(len(offers)):
            self.solve(i)

    def shadowed(self, i: int) -> list[Offer]:
        return _with_shadows(self.offers[i], list(self.cap_keys[i]), self.lam) if self.lam else self.offers[i]

    def solve(self, i: int) -> None:
        chain = best_chain(self.shadowed(i), self.limits)
        self.exact = self.exact and chain.exact
        self.values[i] = chain.value
        use: dict[str, float] = defaultdict(float)
        for j, share in zip(chain.order, chain.accept_share, strict=True):
            for k in self.cap_keys[i][j]:
                use[k] += share
        self.shares[i] = use

    def usage(self, k: str) -> float:
        return sum(self.shares[i].get(k, 0.0) for i in self.members[k])

    def value(self, caps: dict[str, int]) -> float:
        return sum(self.values) + sum(self.lam.get(k, 0.0) * cap for k, cap in caps.items())

    def line_search(self, k: str, cap: int, steps: int) -> bool:
        """Bisection of λ_k to where the expected acceptances of constraint k meet its cap; True if λ_k moved."""
        hi = max((o.price_fen * o.fund for i in self.members[k] for o in self.offers[i]), default=0.0) + 1.0
        lo, start = 0.0, self.lam.get(k, 0.0)
        # A cap of 0 is met only where the partner is worth nothing to any chain: λ at the top at once.
        for _ in range(steps if cap > 0 else 0):
            self.lam[k] = (lo + hi) / 2
            for i in self.members[k]:
                self.solve(i)
            if self.usage(k) > cap:
                lo = self.lam[k]
            else:
                hi = self.lam[k]
        self.lam[k] = hi
        for i in self.members[k]:
            self.solve(i)
        return abs(hi - start) > 1e-6 * (1 + start)


def upper_bound(
    limits: ChainLimits,
    cap_keys: Sequence[Sequence[list[str]]],
    caps: dict[str, int],
    offers: Sequence[list[Offer]],
    cycles: int = 4,
    steps: int = 14,
) -> Bound:
    """cap_keys[i][j]: the constraint ids offer j of lead i counts against; caps: constraint id → cap."""
    dual = _Dual(limits, cap_keys, offers)
    best, best_lam = dual.value(caps), {}
    binds = any(dual.usage(k) > caps[k] + 1e-9 for k in caps)
    if binds:
        for _ in range(cycles):
            moved = False
            for k in sorted(caps, key=_longest_window_first):
                if dual.usage(k) <= caps[k] + 1e-9 and dual.lam.get(k, 0.0) == 0.0:
                    continue
                moved = dual.line_search(k, caps[k], steps) or moved
                d = dual.value(caps)
                if d < best:
                    best, best_lam = d, dict(dual.lam)
            if not moved:
                break
        dual.lam = dict(best_lam)
        for i in range(len(offers)):
            dual.solve(i)
        best = min(best, dual.value(caps))
    per_lead = []
    for i in range(len(offers)):
        # the bound's plans valued at true value (shadows only steer them); scaled below to the bound
        chain = best_chain(dual.shadowed(i), limits)
        per_lead.append(chain_value(offers[i], chain.order, limits).value)
    total = sum(per_lead)
    if total > 0:
        per_lead = [v * best / total for v in per_lead]
    shadows = {}
    for k, v in dual.lam.items():
        pid, _, key = k.partition("|")
        shadows[(pid, key)] = v
    return Bound(best, per_lead, shadows, binds, dual.exact)


_WINDOW_ORDER = {"month": 0, "week": 1, "day": 2, "hour": 3}


def _longest_window_first(k: str) -> tuple[int, str]:
    """Constraint ids (partner|window:key) by window length, longest first: a partner's week price often
    leaves its hours with room, so searched first it spares a line search of each of the hundreds of hour
    constraints of a long run (any order gives a valid bound; this one reaches it sooner)."""
    kind = k.partition("|")[2].partition(":")[0]
    return _WINDOW_ORDER.get(kind, len(_WINDOW_ORDER)), k


def order_value(offers: Sequence[list[Offer]], order: Sequence[str], limits: ChainLimits) -> float:
    position = {p: i for i, p in enumerate(order)}
    return sum(_static_value(os_, position, limits) for os_ in offers)


def _static_value(offers: list[Offer], position: dict[str, int], limits: ChainLimits) -> float:
    listed = sorted((position[o.partner_id], j) for j, o in enumerate(offers) if o.partner_id in position)
    return chain_value(offers, [j for _, j in listed], limits).value


@dataclass(frozen=True)
class StaticWaterfall:
    """One tier's hindsight waterfall: the partners posted, in order, and those it leaves out of the tier."""

    order: list[str]
    left_out: list[str]


def best_static_orders(
    leads: Sequence[SimLead], offers: Sequence[list[Offer]], limits: ChainLimits
) -> dict[str, StaticWaterfall]:
    """The best fixed partner list per tier for this run, from the true values (see the module doc)."""
    by_tier: dict[str, list[int]] = defaultdict(list)
    for i, lead in enumerate(leads):
        by_tier[lead.applicant.tier].append(i)
    orders: dict[str, StaticWaterfall] = {}
    for tier, idx in sorted(by_tier.items()):
        partners = len({o.partner_id for i in idx for o in offers[i]})
        step = max(1, len(idx) // max(200, min(SEARCH_SAMPLE, SEARCH_BUDGET // max(partners, 1))))
        sample = [offers[i] for i in idx[::step]]
        order = _search(sample, limits)
        seen = {o.partner_id for os_ in sample for o in os_}
        orders[tier] = StaticWaterfall(order, sorted(seen - set(order)))
    return orders


def _search(sample: list[list[Offer]], limits: ChainLimits) -> list[str]:
    value: dict[str, float] = defaultdict(float)
    expected: dict[str, float] = defaultdict(float)
    seen: dict[str, list[int]] = defaultdict(list)
    for i, os_ in enumerate(sample):
        for o in os_:
            value[o.partner_id] += o.value
            expected[o.partner_id] += o.value * o.accept
            seen[o.partner_id].append(i)
    partners = sorted(seen)
    if not partners:
        return []
    if len(partners) <= BRUTE_FORCE_PARTNERS:
        # Longest lists first: max keeps the first of equal values.
        lists: list[tuple[str, ...]] = [
            order for k in range(len(partners), -1, -1) for order in itertools.permutations(partners, k)
        ]
        values = [order_value(sample, order, limits) for order in lists]
        return list(lists[values.index(max(values))])
    starts = [
        sorted(partners, key=lambda p: -value[p] / len(seen[p])),
        sorted(partners, key=lambda p: -expected[p] / len(seen[p])),
    ]
    best_order, best_value = starts[0], order_value(sample, starts[0], limits)
    for start in starts:
        order, current = _local_search(sample, seen, list(start), limits)
        if current > best_value:
            best_order, best_value = order, current
    return best_order


def _local_search(
    sample: list[list[Offer]], seen: dict[str, list[int]], order: list[str], limits: ChainLimits
) -> tuple[list[str], float]:
    """Improves `order` by the best single move of one partner at a time: to another place, out of the list,
    or back into it."""
    current = order_value(sample, order, limits)
    improved, passes = True, 0
    while improved and passes < MAX_PASSES:
        improved, passes = False, passes + 1
        for p in [*order, *(q for q in sorted(seen) if q not in order)]:
            # moving p changes only the leads p bid on: compare on those
            affected = [sample[i] for i in seen[p]]
            base = order_value(affected, order, limits)
            rest = [q for q in order if q != p]
            trials = [[*rest[:j], p, *rest[j:]] for j in range(len(rest) + 1)]
            if p in order:
                trials.append(rest)
            best_gain, best_trial = 1e-9, None
            for trial in trials:
                if trial == order:
                    continue
                gain = order_value(affected, trial, limits) - base
                if gain > best_gain:
                    best_gain, best_trial = gain, trial
            if best_trial is not None:
                order, current, improved = best_trial, current + best_gain, True
    return order, current


def cap_structure(
    market: Market, leads: Sequence[SimLead], offers: Sequence[list[Offer]]
) -> tuple[list[list[list[str]]], dict[str, int]]:
    """Constraint ids per offer (partner|window key at the lead's arrival) and the cap of each."""
    book = CapBook(market.registry, market)
    caps: dict[str, int] = {}
    keys: list[list[list[str]]] = []
    for lead, os_ in zip(leads, offers, strict=True):
        per = []
        for o in os_:
            ks = []
            for key, cap in book.keys(o.partner_id, lead.at):
                k = f"{o.partner_id}|{key}"
                caps[k] = cap
                ks.append(k)
            per.append(ks)
        keys.append(per)
    return keys, caps
