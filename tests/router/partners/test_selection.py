"""Pure selection and learning rules (no I/O: clock and randomness are injected)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from services.router.partners.config import PartnersConfig
from services.router.partners.domain import (
    BID,
    NO_BID,
    EstimateBook,
    PingResult,
    mean_scorer,
    prefilter,
    rank,
    thompson_scorer,
)
from tests.router.partners.helpers import START, applicant

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def registry(**changes: object) -> PartnersConfig:
    lenders = [
        {
            "id": "alpha",
            "endpoint": "x:1",
            "tiers": ["near_prime", "tail"],
            "annual_cost_rate": 0.18,
            "allow_listed": True,
        },
        {
            "id": "beta",
            "endpoint": "x:2",
            "tiers": ["near_prime"],
            "annual_cost_rate": 0.2,
            "allow_listed": True,
            "partner_class": "licensed_bank",
            "eligibility": {"min_age": 25, "max_age": 50, "blocked_regions": ["CN-65"]},
            "pricing": {"mode": "fixed", "fixed_price_fen": 2000},
        },
        {
            "id": "gamma",
            "endpoint": "x:3",
            "tiers": ["near_prime", "tail"],
            "annual_cost_rate": 0.18,
            "allow_listed": True,
            "pricing": {"mode": "bid", "min_price_fen": {"near_prime": 1500}},
        },
    ]
    return PartnersConfig.model_validate({"lenders": lenders, **changes})


def test_prefilter_gives_every_skipped_partner_its_reason() -> None:
    config = registry()
    a = applicant("tail", consent_classes=["consumer_finance"], age=60)
    eligible, skipped = prefilter(a, config, lambda pid: pid == "gamma", START)
    assert [p.id for p in eligible] == ["alpha"]
    assert {e.partner_id: e.status for e in skipped} == {"beta": "TIER_NOT_ACCEPTED", "gamma": "CIRCUIT_OPEN"}
    old = applicant("near_prime", consent_classes=["consumer_finance", "licensed_bank"], age=60)
    _, skipped = prefilter(old, config, lambda pid: False, START)
    assert {e.partner_id: (e.status, e.detail) for e in skipped} == {"beta": ("INELIGIBLE", "age above 50")}


def test_expired_consent_does_not_count() -> None:
    from services.router.partners.domain import Consent

    config = registry()
    a = applicant("tail")
    lapsed = Consent(
        frozenset(), frozenset({"consumer_finance"}), frozenset({"loan_referral"}), T0, T0 + timedelta(days=1)
    )
    a = a.__class__(**{**a.__dict__, "consents": (lapsed,)})
    assert [p.id for p in prefilter(a, config, lambda _: False, T0)[0]] == ["alpha", "gamma"]
    assert prefilter(a, config, lambda _: False, T0 + timedelta(days=2))[0] == []


def test_rank_by_expected_value_with_fixed_prices_minimums_and_known_applicants() -> None:
    config = registry()
    book = EstimateBook()
    book.add("alpha", "near_prime", accept_s=9, accept_f=1, fund_s=2, fund_f=8)  # pays well, rarely funds
    book.add("beta", "near_prime", accept_s=8, accept_f=2, fund_s=8, fund_f=2)
    a = applicant("near_prime")
    pings = [PingResult("alpha", BID, 4000), PingResult("beta", NO_BID), PingResult("gamma", BID, 1200)]
    ranked, trace = rank(a, config.by_id(), pings, mean_scorer(book))
    assert [(c.partner_id, c.price_fen) for c in ranked] == [("beta", 2000), ("alpha", 4000)]  # fixed price counts
    assert {e.partner_id: e.status for e in trace}["gamma"] == "BELOW_MIN_PRICE"
    known = [PingResult("alpha", NO_BID, known=True)]
    _, trace = rank(a, config.by_id(), known, mean_scorer(book))
    assert [e.status for e in trace] == ["ALREADY_KNOWN"]


def test_thompson_gives_a_new_partner_a_fair_trial_then_settles_on_the_best() -> None:
    config = registry()
    book = EstimateBook()
    book.add("alpha", "tail", accept_s=40, accept_f=10, fund_s=20, fund_f=30)  # known: EV ≈ 3000×0.8×0.4 = 960
    rng = random.Random(3)
    wins = {"alpha": 0, "gamma": 0}
    true_gamma = (0.9, 0.7)  # the newcomer is better: EV ≈ 3000×0.63 = 1890
    a = applicant("tail")
    for _ in range(300):
        pings = [PingResult("alpha", BID, 3000), PingResult("gamma", BID, 3000)]
        ranked, _ = rank(a, config.by_id(), pings, thompson_scorer(book, rng))
        winner = ranked[0].partner_id
        wins[winner] += 1
        if winner == "gamma":
            accepted, funded = rng.random() < true_gamma[0], rng.random() < true_gamma[1]
            book.add(
                "gamma",
                "tail",
                accept_s=int(accepted),
                accept_f=int(not accepted),
                fund_s=int(accepted and funded),
                fund_f=int(accepted and not funded),
            )
    assert wins["gamma"] > 250  # explored, learned, and now wins most leads
