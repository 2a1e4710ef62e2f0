"""Pure selection, learning, breaker and backoff rules (no I/O: clock and randomness are injected)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.common.config import ConfigError, parse_document
from services.router.partners import outcomes
from services.router.partners.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, full_jitter_backoff
from services.router.partners.config import PartnersConfig
from services.router.partners.domain import (
    BID,
    NO_BID,
    EstimateBook,
    PingResult,
    cap_window_keys,
    mean_scorer,
    prefilter,
    rank,
    thompson_scorer,
)
from tests.router.partners.harness import START, applicant

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


def test_outcomes_move_the_estimates_forward_only() -> None:
    assert outcomes.moves_forward(0, outcomes.ACCEPTED)
    assert outcomes.moves_forward(outcomes.APPROVED, outcomes.FUNDED)
    assert not outcomes.moves_forward(outcomes.FUNDED, outcomes.ACCEPTED)
    assert not outcomes.moves_forward(outcomes.FUNDED, outcomes.REJECTED)
    assert outcomes.moves_forward(outcomes.FUNDED, outcomes.RETURNED)
    assert not outcomes.moves_forward(outcomes.RETURNED, outcomes.RETURNED)
    book = EstimateBook()
    before = book.get("alpha", "tail").mean_fund()
    change = outcomes.learning(0, outcomes.FUNDED)
    book.add("alpha", "tail", fund_s=change.fund_s, fund_f=change.fund_f)
    assert book.get("alpha", "tail").mean_fund() > before
    assert outcomes.learning(outcomes.FUNDED, outcomes.RETURNED) == outcomes.Learning()


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


def test_circuit_breaker_opens_half_opens_and_closes() -> None:
    breaker = CircuitBreaker(failures_to_open=3, cooldown=timedelta(seconds=30))
    for _ in range(2):
        breaker.record_failure("p", T0)
    assert breaker.state("p", T0) == CLOSED and breaker.allow("p", T0)
    breaker.record_failure("p", T0)
    assert breaker.state("p", T0) == OPEN and not breaker.allow("p", T0 + timedelta(seconds=29))
    later = T0 + timedelta(seconds=30)
    assert breaker.state("p", later) == HALF_OPEN
    assert breaker.allow("p", later) and not breaker.allow("p", later)  # exactly one probe
    breaker.record_failure("p", later)  # the probe failed: open for another cooldown
    assert breaker.state("p", later + timedelta(seconds=1)) == OPEN
    again = later + timedelta(seconds=30)
    assert breaker.allow("p", again)
    breaker.record_success("p")
    assert breaker.state("p", again) == CLOSED and breaker.allow("p", again)


def test_full_jitter_backoff_stays_within_the_exponential_ceiling() -> None:
    rng = random.Random(1)
    base, cap = timedelta(milliseconds=500), timedelta(seconds=10)
    for attempt in range(1, 10):
        ceiling = min(cap, base * 2 ** (attempt - 1))
        delays = [full_jitter_backoff(attempt, base, cap, rng) for _ in range(200)]
        assert all(timedelta(0) <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # full jitter spreads over the whole range


def test_cap_windows_follow_the_configured_time_zone() -> None:
    late = datetime(2026, 1, 4, 16, 30, tzinfo=UTC)  # 00:30 on Monday 5 January in Shanghai
    assert cap_window_keys(late, "Asia/Shanghai", ["hour", "day", "week", "month"]) == {
        "hour": "2026-01-05T00",
        "day": "2026-01-05",
        "week": "2026-W02",
        "month": "2026-01",
    }
    assert cap_window_keys(late, "UTC", ["day"]) == {"day": "2026-01-04"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "lenders: [{id: a1, endpoint: 'x:1', tiers: [tail], annual_cost_rate: 0.1}, "
            "{id: a1, endpoint: 'x:2', tiers: [tail], annual_cost_rate: 0.1}]",
            "duplicate partner ids: a1",
        ),
        ("waterfall: {tail: [ghost]}", "waterfall.tail names unknown partners: ghost"),
        (
            "lenders: [{id: a1, endpoint: 'x:1', tiers: [tail], annual_cost_rate: 0.1, pricing: {mode: fixed}}]",
            "fixed-price partner needs fixed_price_fen",
        ),
        ("caps_timezone: Mars/Olympus", "unknown time zone"),
    ],
)
def test_bad_registries_are_refused_at_load(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_document(text, PartnersConfig, "partners")
    assert expected in str(err.value)


def test_call_budget_never_allows_more_calls_than_could_fail_before_opening() -> None:
    breaker = CircuitBreaker(failures_to_open=3, cooldown=timedelta(seconds=30))
    assert breaker.call_budget("p", T0, parallel=16) == 3
    breaker.record_failure("p", T0)
    assert breaker.call_budget("p", T0, parallel=16) == 2
    breaker.record_success("p")
    assert breaker.call_budget("p", T0, parallel=2) == 2
    for _ in range(3):
        breaker.record_failure("p", T0)
    assert breaker.call_budget("p", T0, parallel=16) == 0
    later = T0 + timedelta(seconds=30)
    assert breaker.call_budget("p", later, parallel=16) == 1  # the half-open probe
    assert breaker.call_budget("p", later, parallel=16) == 0  # and only one
