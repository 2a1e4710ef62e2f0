"""Per-partner circuit breaker and retry backoff: pure, time and randomness passed in.

Closed → (N consecutive failures) → open → (cooldown elapsed) → half-open: exactly one probe is let
through; its success closes the circuit, its failure opens it for another cooldown.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"


@dataclass
class _State:
    failures: int = 0
    opened_at: datetime | None = None
    probing: bool = False


@dataclass
class CircuitBreaker:
    failures_to_open: int
    cooldown: timedelta
    _states: dict[str, _State] = field(default_factory=dict)

    def state(self, key: str, now: datetime) -> str:
        s = self._states.get(key)
        if s is None or s.opened_at is None:
            return CLOSED
        if s.probing or now - s.opened_at >= self.cooldown:
            return HALF_OPEN
        return OPEN

    def is_open(self, key: str, now: datetime) -> bool:
        """True while calls must not be made (open, or half-open with its probe already in flight)."""
        s = self._states.get(key)
        if s is None or s.opened_at is None:
            return False
        return s.probing or now - s.opened_at < self.cooldown

    def allow(self, key: str, now: datetime) -> bool:
        """Asks to make one call; in half-open state only the first asker gets the probe."""
        s = self._states.setdefault(key, _State())
        if s.opened_at is None:
            return True
        if s.probing or now - s.opened_at < self.cooldown:
            return False
        s.probing = True
        return True

    def call_budget(self, key: str, now: datetime, parallel: int) -> int:
        """How many calls may run at once now: never more than could fail before the circuit opens;
        one (the probe) when half-open; none while open."""
        s = self._states.get(key)
        if s is None or s.opened_at is None:
            failures = s.failures if s is not None else 0
            return max(1, min(parallel, self.failures_to_open - failures))
        return 1 if self.allow(key, now) else 0

    def record_success(self, key: str) -> None:
        self._states[key] = _State()

    def record_failure(self, key: str, now: datetime) -> None:
        s = self._states.setdefault(key, _State())
        s.failures += 1
        if s.probing or s.failures >= self.failures_to_open:
            s.opened_at, s.probing = now, False


def full_jitter_backoff(attempt: int, base: timedelta, cap: timedelta, rng: random.Random) -> timedelta:
    """Delay before retry number `attempt` (1-based): uniform in [0, min(cap, base * 2^(attempt-1))]."""
    ceiling = min(cap.total_seconds(), base.total_seconds() * (2 ** max(0, attempt - 1)))
    return timedelta(seconds=rng.uniform(0, ceiling))
