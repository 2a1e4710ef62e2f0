"""The simulator moves the budget as production does: claims reserve until redemption or expiry, refunds
give spend back, contact caps hold across campaigns, and the learned policy never overspends."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from services.rewards.domain.policy import NONE
from services.rewards.sim.engine import BEST_SINGLE, LEARNED, RANDOM, simulate
from services.rewards.sim.market import Market
from services.rewards.sim.run import Run
from services.rewards.sim.scenario import Scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parents[3] / "services" / "rewards" / "scenarios"


def _scenario(**changes: object) -> Scenario:
    base = {
        "name": "mechanics",
        "seed": 5,
        "days": 6,
        "arrivals_per_day": 300,
        "budget": {"total_fen": 60_000, "daily_fen": 15_000},
        "arms": [
            {"id": "small", "threshold_fen": 3000, "discount_fen": 300, "validity_days": 3},
            {"id": "big", "threshold_fen": 10000, "discount_fen": 2000, "validity_days": 3},
        ],
        "segments": [
            {"id": "a", "share": 2, "value_fen": 5000, "base_rate": 0.05, "rates": {"small": 0.1, "big": 0.25}},
            {"id": "b", "share": 1, "value_fen": 3000, "base_rate": 0.2, "rates": {"small": 0.21, "big": 0.22}},
        ],
    }
    base.update(changes)
    return Scenario.model_validate(base)


def _always(arm: str) -> Run:
    sc = _scenario(redeem_given_claim=0.5, redeem_delay_days=1.0, budget={"total_fen": 10**9, "daily_fen": 10**8})
    return Run(Market(sc), arm, lambda a, t, d: arm, None, outcome_seed=3)


def test_claimants_who_never_redeem_hold_budget_until_their_coupon_expires() -> None:
    run = _always("big")
    got = run.run()
    assert got.claims > got.redemptions > 0
    assert got.peak_committed > got.spend  # reservations of the unredeemed were held for a while
    assert run.ledger.reserved == 0  # ... and all given back once every coupon expired
    assert got.spend == got.redemptions * 2000


def test_refunds_give_the_spend_back() -> None:
    sc = _scenario(refund_rate=0.5, budget={"total_fen": 10**9, "daily_fen": 10**8})
    got = Run(Market(sc), "big", lambda a, t, d: "big", None, outcome_seed=3).run()
    assert 0 < got.spend < got.redemptions * 2000


def test_a_tight_budget_and_daily_cap_are_never_exceeded_by_any_policy() -> None:
    sc = _scenario(redeem_delay_days=1.5, redeem_given_claim=0.6, budget={"total_fen": 20_000, "daily_fen": 5_000})
    report = simulate(sc)
    for name in (LEARNED, BEST_SINGLE, RANDOM):
        got = report.results[name]
        assert got.overspend == 0 and got.days_over_cap == 0, name
        assert got.spend <= 20_000
    assert report.results[LEARNED].refused_claims + report.results[BEST_SINGLE].refused_claims >= 0
    assert report.budget_utilisation > 0.5


def test_other_campaigns_touches_count_against_the_contact_caps() -> None:
    quiet = Run(Market(_scenario(customers=200)), "x", lambda a, t, d: "small", None, 1).run()
    busy = Run(Market(_scenario(customers=200, other_touches_per_day=2.0)), "x", lambda a, t, d: "small", None, 1).run()
    assert busy.capped > quiet.capped
    assert busy.offers < quiet.offers


def test_other_campaigns_were_touching_customers_before_the_campaign_began() -> None:
    """On the first day a customer's week already holds other campaigns' touches, as many as in any later
    week: started with the campaign, the first week would let through visits no later week does."""
    market = Market(_scenario(days=14, customers=2000, other_touches_per_day=0.5))

    def mean_week(day: int) -> float:
        return sum(a.touched_elsewhere_week for a in market.days[day]) / len(market.days[day])

    first, later = mean_week(0), sum(mean_week(d) for d in range(7, 14)) / 7
    assert later == pytest.approx(0.5 * 6.5, rel=0.1)  # six whole days and, on average, half of today
    assert first == pytest.approx(later, rel=0.1)


def test_a_repeat_customer_is_touched_at_most_the_daily_cap_in_a_day() -> None:
    sc = _scenario(customers=20, contact={"per_day": 2, "per_week": 5})
    run = Run(Market(sc), "x", lambda a, t, d: "small", None, 1)
    run.run()
    for cust in run.customers.values():
        per_day: dict[object, int] = {}
        for t in cust.touches:
            per_day[t.date()] = per_day.get(t.date(), 0) + 1
        assert max(per_day.values(), default=0) <= 2


def test_drift_changes_the_truth_from_its_day_on() -> None:
    sc = _scenario(drift=[{"day": 3, "segment": "a", "rates": {"big": 0.06}}])
    m = Market(sc)
    assert m.rate(2, "a", "big") == 0.25 and m.rate(3, "a", "big") == 0.06
    assert m.rate(3, "a", "small") == 0.1  # unnamed arms keep their rates


def test_weekday_factors_shape_the_arrivals() -> None:
    m = Market(_scenario(days=7, weekday_factors=[1, 1, 1, 1, 1, 3, 1]))
    sizes = {day[0].at.weekday(): len(day) for day in m.days}
    assert sizes[5] == 900 and sizes[0] == 300


def test_every_policy_stays_under_the_oracle() -> None:
    report = simulate(_scenario())
    for name, got in report.results.items():
        assert got.incremental_value <= report.oracle.value * 1.02, name
    assert report.results["no_coupon"].incremental_value == 0


def test_the_learned_policy_beats_the_best_single_amount_and_a_random_arm_on_the_example() -> None:
    report = simulate(load_scenario(SCENARIOS / "example.yaml"))
    assert report.learned_vs_best_single > 1.2
    assert report.results[LEARNED].incremental_value > 2 * report.results[RANDOM].incremental_value
    assert report.learned_vs_oracle > 0.85


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_example_scenario_loads(path: Path) -> None:
    sc = load_scenario(path)
    assert sc.days >= 1 and sc.segments


def test_an_older_scenario_file_keeps_its_meaning() -> None:
    sc = load_scenario(SCENARIOS / "example.yaml")
    assert (sc.redeem_delay_days, sc.redeem_given_claim, sc.customers, sc.drift) == (0.0, 1.0, None, [])
    assert sc.flat_arm == "m50-8"


def test_no_coupon_offers_nothing() -> None:
    got = Run(Market(_scenario()), "none", lambda a, t, d: NONE, None, 1).run()
    assert (got.offers, got.spend, got.incremental_value) == (0, 0, 0.0)


def test_visits_passed_over_teach_the_baseline_until_the_customers_first_offer() -> None:
    """Passed-over visits of customers never offered are no-coupon trials; their payments are reported as
    RecordPayment would see them, and a customer's first offer censors the visits that have not paid."""
    sc = _scenario(customers=200, redeem_delay_days=2.0, days=10)
    lessons: list[tuple[str, str]] = []

    def learn(kind: str, segment: str, arm: str, claimed_at: object = None, at: object = None) -> None:
        lessons.append((kind, segment))

    market = Market(sc)
    # Nothing offered for five days, then every visit gets the small coupon.
    Run(market, "late", lambda a, t, d: "small" if a.day >= 5 else NONE, learn, outcome_seed=3).run()
    kinds = [k for k, _s in lessons]
    passes, paid, censored = kinds.count("pass"), kinds.count("pass_payment"), kinds.count("censor")
    not_held = sum(1 for day in market.days[:5] for a in day if not a.held_out)
    assert 0 < passes <= not_held
    assert censored > 0 and paid + censored <= passes
    shares = {s.id: s.share for s in sc.segments}
    base = sum(s.base_rate * s.share for s in sc.segments) / sum(shares.values())
    assert paid / passes < base + 3 * math.sqrt(base / passes)  # censored payments are never reported
