"""The post-with-fallback objective: best_chain against brute force over every order of every subset."""

from __future__ import annotations

import itertools
import random

import pytest

from services.router.partners.selection import ChainLimits, Offer, Pacer, best_chain, chain_value


def brute_force(offers: list[Offer], limits: ChainLimits) -> float:
    best = 0.0
    for k in range(1, len(offers) + 1):
        for order in itertools.permutations(range(len(offers)), k):
            best = max(best, chain_value(offers, order, limits).value)
    return best


def random_case(rng: random.Random) -> tuple[list[Offer], ChainLimits]:
    n = rng.randint(1, 6)
    offers = [
        Offer(
            f"p{i}",
            rng.choice([800, 1500, 2600, 4000, 5200]) * rng.uniform(0.8, 1.2),
            rng.uniform(0.05, 1.0),
            rng.uniform(0.05, 0.9),
            rng.choice([0.0, 1000.0, 30_000.0, 90_000.0, 200_000.0]),
            rng.choice([0.0, 0.0, 300.0]),
        )
        for i in range(n)
    ]
    windows = {o.partner_id: rng.choice([60_000.0, 120_000.0, 400_000.0]) for o in offers if rng.random() < 0.3}
    limits = ChainLimits(
        max_posts=rng.choice([None, 1, 2, 3]),
        time_budget_ms=rng.choice([None, 100_000.0, 250_000.0, 900_000.0]),
        post_cost_fen=rng.choice([0.0, 0.0, 50.0, 300.0]),
        windows_ms=windows,
    )
    return offers, limits


@pytest.mark.parametrize("seed", range(8))
def test_best_chain_equals_brute_force_over_every_order(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        offers, limits = random_case(rng)
        chain = best_chain(offers, limits)
        assert chain.exact
        assert chain.value == pytest.approx(brute_force(offers, limits), rel=1e-9, abs=1e-9)
        # the chain it returns is worth what it claims when executed
        assert chain_value(offers, chain.order, limits).value == pytest.approx(chain.value)


def test_unlimited_chain_is_ordered_by_value_if_accepted_not_by_expected_value() -> None:
    # A: rarely accepts, pays a lot when it does; B: always accepts, worth less. EV says B first; v says A.
    a = Offer("a", 5000, accept=0.2, fund=0.6)  # v = 3000, a·v = 600
    b = Offer("b", 2000, accept=1.0, fund=0.8)  # v = 1600, a·v = 1600
    chain = best_chain([a, b], ChainLimits())
    assert [("a", "b")[i] for i in chain.order] == ["a", "b"]
    assert chain.value == pytest.approx(0.2 * 3000 + 0.8 * 1600)
    # one post only: acceptance matters again
    one = best_chain([a, b], ChainLimits(max_posts=1))
    assert [("a", "b")[i] for i in one.order] == ["b"]
    # a cost per post moves the key to v − c/a: at 500 fen a post, A (3000 − 2500) loses to B (1600 − 500)
    costly = best_chain([a, b], ChainLimits(post_cost_fen=500))
    assert ("a", "b")[costly.order[0]] == "b"


def test_a_short_acceptance_window_moves_its_partner_forward() -> None:
    slow = Offer("slow", 4000, accept=0.5, fund=0.5, post_ms=120_000)  # v = 2000
    short = Offer("short", 3000, accept=0.5, fund=0.5, post_ms=1_000)  # v = 1500, bid holds 60 s
    limits = ChainLimits(windows_ms={"short": 60_000})
    chain = best_chain([slow, short], limits)
    assert [o.partner_id for o in (slow, short)][chain.order[0]] == "short"
    assert chain.value == pytest.approx(0.5 * 1500 + 0.5 * 0.5 * 2000)


def test_shadow_price_of_a_capped_partner_lowers_its_value() -> None:
    capped = Offer("capped", 4000, 0.9, 0.5, shadow_fen=1500)  # 2000 − 1500
    free = Offer("free", 3000, 0.9, 0.5)  # 1500
    chain = best_chain([capped, free], ChainLimits())
    assert chain.order[0] == 1


def test_pacer_raises_the_shadow_price_while_a_cap_is_spent_too_fast_and_lowers_it_after() -> None:
    pacer = Pacer(step=0.1)
    for _ in range(50):
        pacer.update("p", expected_accepts=0.9, pace=0.2, value=1000)
    high = pacer.shadow("p")
    assert high > 0
    for _ in range(200):
        pacer.update("p", expected_accepts=0.0, pace=0.5, value=1000)
    assert pacer.shadow("p") == 0.0


def test_pacer_expects_the_bids_of_the_hours_ahead_from_past_days() -> None:
    pacer = Pacer()
    day = 86_400.0
    for d in range(3):  # every day: 1 bid an hour overnight, 20 an hour from 18:00 to 22:00 (UTC hours)
        for hour in range(24):
            n = 20 if 18 <= hour < 22 else 1
            for k in range(n):
                pacer.saw_bid("p", d * day + hour * 3600 + k * 3600 / n)
    evening = pacer.expected_bids("p", 3 * day + 17 * 3600, 6 * 3600)  # 17:00-23:00: 1 + 4×20 + 1
    night = pacer.expected_bids("p", 3 * day + 0 * 3600, 6 * 3600)
    assert 70 < evening < 90
    assert 4 < night < 8
