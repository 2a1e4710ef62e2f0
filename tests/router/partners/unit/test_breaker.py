"""The circuit breaker and retry backoff: open, half-open with one probe, closed; the call budget; full jitter.
(Time comes from an injected clock or is passed in, randomness from a seeded generator.)"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from services.common.clock import ManualClock
from services.router.partners.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, full_jitter_backoff
from tests.router.partners.helpers import START

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


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


def test_full_jitter_backoff_stays_within_the_exponential_ceiling() -> None:
    rng = random.Random(1)
    base, cap = timedelta(milliseconds=500), timedelta(seconds=10)
    for attempt in range(1, 10):
        ceiling = min(cap, base * 2 ** (attempt - 1))
        delays = [full_jitter_backoff(attempt, base, cap, rng) for _ in range(200)]
        assert all(timedelta(0) <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # full jitter spreads over the whole range


def test_breaker_runs_on_its_injected_clock_and_says_when_the_probe_may_go() -> None:
    clock = ManualClock(START)
    breaker = CircuitBreaker(2, timedelta(seconds=1), clock, probe_timeout=timedelta(seconds=5))
    breaker.record_failure("p")
    breaker.record_failure("p")
    assert breaker.state("p") == OPEN
    assert breaker.next_call_at("p") == START + timedelta(seconds=1)  # when deferred posts come due
    clock.advance(seconds=1)
    assert breaker.state("p") == HALF_OPEN and breaker.probe_due("p")
    breaker.hold("p")  # the partner is known to be unreachable: no probe for another open period
    assert breaker.state("p") == OPEN and breaker.next_call_at("p") == clock.now() + timedelta(seconds=1)
    clock.advance(seconds=1)
    assert breaker.allow("p") and not breaker.allow("p")  # exactly one probe
    assert not breaker.probe_due("p")
    assert breaker.next_call_at("p") == clock.now() + timedelta(seconds=5)
    clock.advance(seconds=5)  # its verdict never came back (the round crashed): another probe may go
    assert breaker.allow("p")
    breaker.record_success("p")
    assert breaker.state("p") == CLOSED and breaker.next_call_at("p") == clock.now()
