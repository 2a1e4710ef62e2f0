"""Holdout assignment: a stable hash of campaign and customer, so every replica and restart agrees,
drawn per campaign, with the configured share."""

from __future__ import annotations

from services.rewards.domain import holdout

CUSTOMERS = [f"cust-hash-{n}" for n in range(2000)]


def test_the_same_customer_always_lands_in_the_same_group() -> None:
    first = [holdout.assign("mall", c, 0.3) for c in CUSTOMERS]
    assert [holdout.assign("mall", c, 0.3) for c in CUSTOMERS] == first


def test_the_share_is_respected() -> None:
    held = sum(holdout.assign("mall", c, 0.2) == holdout.HOLDOUT for c in CUSTOMERS)
    assert 0.16 * len(CUSTOMERS) < held < 0.24 * len(CUSTOMERS)
    assert all(holdout.assign("mall", c, 0.0) == holdout.TREATMENT for c in CUSTOMERS)


def test_a_larger_share_only_adds_customers_to_the_holdout() -> None:
    small = {c for c in CUSTOMERS if holdout.assign("mall", c, 0.1) == holdout.HOLDOUT}
    large = {c for c in CUSTOMERS if holdout.assign("mall", c, 0.3) == holdout.HOLDOUT}
    assert small < large


def test_each_campaign_draws_its_own_holdout() -> None:
    mall = {c for c in CUSTOMERS if holdout.assign("mall", c, 0.5) == holdout.HOLDOUT}
    food = {c for c in CUSTOMERS if holdout.assign("food", c, 0.5) == holdout.HOLDOUT}
    assert mall != food
