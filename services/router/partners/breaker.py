"""Per-partner circuit breaker and retry backoff: time comes from an injected clock, randomness is passed in.

Closed → (N consecutive failures) → open → (open period elapsed) → half-open: exactly one probe is let
through; its success closes the circuit, its failure opens it for another open period.

The open period (`breaker_cooldown_ms`) is short by default: while the circuit is open the partner is
skipped at selection, so every second it stays open after the partner is back is a second of unsold
leads. `next_call_at` tells the dispatcher the exact moment the probe becomes possible, so deferred
deliveries come due then rather than a whole open period after they were skipped; `hold` lets it put
the probe off (without spending a lead's attempt) while the partner is known to be unreachable. A probe whose
verdict never comes back (its round crashed or was cancelled) is forgotten after `probe_timeout`, so a
lost probe cannot keep the partner out for good.

`on_change(key, opened)` (optional) hears each transition: opened (from closed) and closed again (by a
successful call). A half-open probe that fails re-opens a circuit that never closed, so it is not a change.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.common.clock import Clock, SystemClock

CLOSED, OPEN, HALF_OPEN = "CLOSED", "OPEN", "HALF_OPEN"


@dataclass
class _State:
    failures: int = 0
    opened_at: datetime | None = None
    probe_started: datetime | None = None  # set while the half-open probe is in flight


@dataclass
class CircuitBreaker:
    """Every `now` argument is optional and defaults to the injected clock; a caller that works on one
    instant for a whole round (the dispatcher) passes it so all its decisions see the same time."""

    failures_to_open: int
    cooldown: timedelta  # the open period
    clock: Clock = field(default_factory=SystemClock)
    probe_timeout: timedelta = timedelta(seconds=30)
    on_change: Callable[[str, bool], None] | None = None  # (key, opened): see the module docstring
    _states: dict[str, _State] = field(default_factory=dict)

    def _now(self, now: datetime | None) -> datetime:
        return now if now is not None else self.clock.now()

    def _probing(self, s: _State, now: datetime) -> bool:
        return s.probe_started is not None and now - s.probe_started < self.probe_timeout

    def state(self, key: str, now: datetime | None = None) -> str:
        now = self._now(now)
        s = self._states.get(key)
        if s is None or s.opened_at is None:
            return CLOSED
        if self._probing(s, now) or now - s.opened_at >= self.cooldown:
            return HALF_OPEN
        return OPEN

    def is_open(self, key: str, now: datetime | None = None) -> bool:
        """True while calls must not be made (open, or half-open with its probe already in flight)."""
        now = self._now(now)
        s = self._states.get(key)
        if s is None or s.opened_at is None:
            return False
        return self._probing(s, now) or now - s.opened_at < self.cooldown

    def next_call_at(self, key: str, now: datetime | None = None) -> datetime:
        """The earliest moment a call may be allowed: now when closed, else when the probe can go."""
        now = self._now(now)
        s = self._states.get(key)
        if s is None or s.opened_at is None:
            return now
        if s.probe_started is not None and self._probing(s, now):
            return s.probe_started + self.probe_timeout
        return max(now, s.opened_at + self.cooldown)

    def probe_due(self, key: str, now: datetime | None = None) -> bool:
        """True when the circuit is half-open and its probe has not been taken yet."""
        now = self._now(now)
        s = self._states.get(key)
        return s is not None and s.opened_at is not None and not self.is_open(key, now)

    def hold(self, key: str, now: datetime | None = None) -> None:
        """Keeps the circuit open for another open period without a probe, e.g. while the partner's
        channel is known to be unable to reach it: a probe then would fail without telling anything."""
        now = self._now(now)
        s = self._states.setdefault(key, _State())
        was_closed = s.opened_at is None
        s.opened_at, s.probe_started = now, None
        if was_closed and self.on_change is not None:
            self.on_change(key, True)

    def allow(self, key: str, now: datetime | None = None) -> bool:
        """Asks to make one call; in half-open state only the first asker gets the probe."""
        now = self._now(now)
        s = self._states.setdefault(key, _State())
        if s.opened_at is None:
            return True
        if self.is_open(key, now):
            return False
        s.probe_started = now
        return True

    def call_budget(self, key: str, now: datetime | None, parallel: int) -> int:
        """How many calls may run at once now: never more than could fail before the circuit opens;
        one (the probe) when half-open; none while open."""
        s = self._states.get(key)
        if s is None or s.opened_at is None:
            failures = s.failures if s is not None else 0
            return max(1, min(parallel, self.failures_to_open - failures))
        return 1 if self.allow(key, now) else 0

    def record_success(self, key: str) -> None:
        s = self._states.get(key)
        self._states[key] = _State()
        if s is not None and s.opened_at is not None and self.on_change is not None:
            self.on_change(key, False)

    def record_failure(self, key: str, now: datetime | None = None) -> None:
        now = self._now(now)
        s = self._states.setdefault(key, _State())
        s.failures += 1
        if s.probe_started is not None or s.failures >= self.failures_to_open:
            was_closed = s.opened_at is None
            s.opened_at, s.probe_started = now, None
            if was_closed and self.on_change is not None:
                self.on_change(key, True)


def full_jitter_backoff(attempt: int, base: timedelta, cap: timedelta, rng: random.Random) -> timedelta:
    """Delay before retry number `attempt` (1-based): uniform in [0, min(cap, base * 2^(attempt-1))]."""
    ceiling = min(cap.total_seconds(), base.total_seconds() * (2 ** max(0, attempt - 1)))
    return timedelta(seconds=rng.uniform(0, ceiling))
