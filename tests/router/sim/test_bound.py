"""The upper bound: exact per lead without caps; the LP relaxation (Lagrangian dual) with caps, checked
against the exact best policy found by brute force over every order of every lead and every cap state."""

from __future__ import annotations

import functools
import itertools
import random

import pytest

from services.router.partners.selection import ChainLimits, Offer, best_chain
from services.router.sim.bound import _Dual, _search, order_value, upper_bound

CAPPED = "c"


def exact_policy_value(leads: list[list[Offer]], cap: int, limits: ChainLimits) -> float:
    """Best expected value of any policy that sees the leads one by one, the cap state included: a DP over
    (lead, room left) choosing, for each, the best order of any subset; the capped partner is skipped
    once its room is spent, as the desk's choose() does."""

    @functools.cache
    def value(i: int, room: int) -> float:
        if i == len(leads):
            return 0.0
        offers = leads[i]
        best = value(i + 1, room)
        for k in range(1, len(offers) + 1):
            for order in itertools.permutations(range(len(offers)), k):
                best = max(best, chain(offers, order, i, room))
        return best

    def chain(offers: list[Offer], order: tuple[int, ...], i: int, room: int) -> float:
        reach, total, posts = 1.0, 0.0, 0
        for j in order:
            o = offers[j]
            if o.partner_id == CAPPED and room == 0:
                continue
            if limits.max_posts is not None and posts >= limits.max_posts:
                break
            posts += 1
            after = room - 1 if o.partner_id == CAPPED else room
            total += reach * o.accept * (o.price_fen * o.fund + value(i + 1, after))
            reach *= 1 - o.accept
        return total + reach * value(i + 1, room)

    return value(0, cap)


def case(rng: random.Random, leads: int) -> list[list[Offer]]:
    out = []
    for _ in range(leads):
        offers = [Offer(CAPPED, rng.uniform(2000, 5000), rng.uniform(0.3, 1), rng.uniform(0.3, 0.9))]
        for name in ("x", "y")[: rng.randint(1, 2)]:
            offers.append(Offer(name, rng.uniform(1000, 4000), rng.uniform(0.3, 1), rng.uniform(0.2, 0.8)))
        out.append(offers)
    return out


def bound_of(leads: list[list[Offer]], cap: int, limits: ChainLimits) -> float:
    keys = [[["c|day"] if o.partner_id == CAPPED else [] for o in offers] for offers in leads]
    return upper_bound(limits, keys, {"c|day": cap}, leads).value_fen


@pytest.mark.parametrize("seed", range(6))
def test_the_bound_is_never_below_the_exact_best_policy_and_equal_when_caps_do_not_bind(seed: int) -> None:
    rng = random.Random(seed)
    for limits in (ChainLimits(), ChainLimits(max_posts=1)):
        leads = case(rng, 4)
        free = sum(best_chain(offers, limits).value for offers in leads)
        assert bound_of(leads, 4, limits) == pytest.approx(free)
        assert exact_policy_value(leads, 4, limits) == pytest.approx(free)
        for cap in (0, 1, 2):
            exact = exact_policy_value(leads, cap, limits)
            bound = bound_of(leads, cap, limits)
            assert bound >= exact - 1e-6
            assert bound <= free + 1e-6


def test_the_dual_search_finds_the_minimum_of_the_dual_over_a_fine_grid() -> None:
    rng = random.Random(42)
    limits = ChainLimits(max_posts=2)
    leads = case(rng, 12)
    cap = 3
    found = bound_of(leads, cap, limits)

    def dual(lam: float) -> float:
        total = 0.0
        for offers in leads:
            shadowed = [
                Offer(o.partner_id, o.price_fen, o.accept, o.fund, o.post_ms, lam if o.partner_id == CAPPED else 0)
                for o in offers
            ]
            total += best_chain(shadowed, limits).value
        return total + lam * cap

    grid = min(dual(lam) for lam in [i * 5.0 for i in range(1000)])
    assert found <= grid + 1e-6
    assert found >= grid - 0.002 * grid


def test_hindsight_search_finds_the_best_static_order() -> None:
    rng = random.Random(3)
    limits = ChainLimits(max_posts=2)
    names = ["a", "b", "c", "d", "e", "f", "g"]
    base = {n: (rng.uniform(1000, 5000), rng.uniform(0.2, 1.0), rng.uniform(0.1, 0.9)) for n in names}
    sample = []
    for _ in range(60):
        present = [n for n in names if rng.random() < 0.7]
        sample.append([Offer(n, base[n][0] * rng.uniform(0.8, 1.2), base[n][1], base[n][2]) for n in present])
    found = order_value(sample, _search(sample, limits), limits)
    best = max(order_value(sample, order, limits) for order in itertools.permutations(names))
    assert found >= best * 0.999


def _costly_sample(rng: random.Random, names: list[str]) -> list[list[Offer]]:
    # Half the partners earn less per post than a post costs (price × P(accept) × P(fund) below 600).
    base = {n: (rng.uniform(1000, 5000), rng.uniform(0.2, 1.0), rng.uniform(0.05, 0.6)) for n in names}
    sample = []
    for _ in range(60):
        present = [n for n in names if rng.random() < 0.8]
        sample.append([Offer(n, base[n][0] * rng.uniform(0.8, 1.2), base[n][1], base[n][2]) for n in present])
    return sample


def _every_ordered_subset(names: list[str]) -> list[tuple[str, ...]]:
    return [order for k in range(len(names) + 1) for order in itertools.permutations(names, k)]


@pytest.mark.parametrize("partners", [4, 6])
def test_where_posts_cost_money_the_hindsight_waterfall_leaves_out_the_partners_that_lose_it(partners: int) -> None:
    rng = random.Random(5)
    names = [chr(ord("a") + i) for i in range(partners)]
    limits = ChainLimits(max_posts=3, post_cost_fen=600)
    sample = _costly_sample(rng, names)
    found = _search(sample, limits)
    best = max(order_value(sample, order, limits) for order in _every_ordered_subset(names))
    assert order_value(sample, found, limits) >= best * 0.999
    full = max(order_value(sample, order, limits) for order in itertools.permutations(names))
    assert len(found) < partners and order_value(sample, found, limits) > full


def test_with_free_posts_the_hindsight_waterfall_names_every_partner() -> None:
    rng = random.Random(5)
    names = ["a", "b", "c", "d"]
    sample = _costly_sample(rng, names)
    assert sorted(_search(sample, ChainLimits(max_posts=3))) == names


def test_a_cap_of_zero_prices_its_partner_out_of_every_chain() -> None:
    rng = random.Random(7)
    limits = ChainLimits(max_posts=2)
    leads = case(rng, 8)
    without = sum(best_chain([o for o in offers if o.partner_id != CAPPED], limits).value for offers in leads)
    assert bound_of(leads, 0, limits) == pytest.approx(without, rel=1e-9)


def test_hour_caps_left_slack_by_a_binding_week_cap_are_never_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    # Six hours of six leads each; the partner may take 1 an hour but only 2 in the week. Every hour binds
    # on its own (six leads want it), but at the week's price at most one still does: the search prices the
    # longest window first.
    rng = random.Random(11)
    limits = ChainLimits(max_posts=2)
    leads = case(rng, 36)
    hourly = [
        [[f"c|hour:{i // 6}", "c|week:1"] if o.partner_id == CAPPED else [] for o in offers]
        for i, offers in enumerate(leads)
    ]
    caps = {**{f"c|hour:{h}": 1 for h in range(6)}, "c|week:1": 2}
    searched: list[str] = []
    line_search = _Dual.line_search

    def counted(self: _Dual, k: str, cap: int, steps: int) -> bool:
        searched.append(k)
        return line_search(self, k, cap, steps)

    monkeypatch.setattr(_Dual, "line_search", counted)
    both = upper_bound(limits, hourly, caps, leads).value_fen
    # a line search of each hour costs as much as the week's, and a long run has hundreds of hours
    assert "c|week:1" in searched and len({k for k in searched if "hour" in k}) <= 1
    week_only = [[["c|week:1"] if o.partner_id == CAPPED else [] for o in offers] for offers in leads]
    alone = upper_bound(limits, week_only, {"c|week:1": 2}, leads).value_fen
    assert both == pytest.approx(alone, rel=1e-3)
