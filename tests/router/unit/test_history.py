"""Earlier decisions over lookup rows: which rows are retries, which count for stickiness and velocity,
which decision a sticky repeat answers with, and the ages velocity rules see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.router.domain.history import ages, classify, is_sticky, sticky_repeat

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    hit: str
    kind: str = "live"
    idempotency_key: str | None = None
    applicant_ref: str = "a"
    device_ref: str | None = None
    decided_at: datetime = NOW


def test_rows_are_sorted_into_retries_and_counted_decisions() -> None:
    retry = Row("key", idempotency_key="k1")
    older = Row("app", decided_at=NOW - timedelta(hours=3))
    newer = Row("app", decided_at=NOW - timedelta(hours=1))
    shadow = Row("app", kind="shadow")
    repeat = Row("app", kind="repeat")
    device = Row("dev", device_ref="d1")
    history = classify([retry, older, shadow, newer, repeat, device])
    assert history.by_key == {"k1": retry}
    assert history.applicant("a") == [newer, older]  # newest first, shadows and repeats left out
    assert history.device("d1") == [device]
    assert history.applicant("b") == [] and history.device(None) == []


def test_a_retry_found_by_key_counts_whatever_its_kind() -> None:
    repeat = Row("key", kind="repeat", idempotency_key="k2")
    assert classify([repeat]).by_key == {"k2": repeat}


def test_the_newest_live_decision_inside_the_window_is_repeated() -> None:
    newest = Row("app", decided_at=NOW - timedelta(minutes=59))
    older = Row("app", decided_at=NOW - timedelta(minutes=30, hours=1))
    assert sticky_repeat([newest, older], 1, NOW) is newest
    assert sticky_repeat([older], 1, NOW) is None
    assert sticky_repeat([newest], 0, NOW) is None  # stickiness off
    assert sticky_repeat([], 1, NOW) is None


def test_the_window_edge_is_inside() -> None:
    assert is_sticky(1, NOW - timedelta(hours=1), NOW)
    assert not is_sticky(1, NOW - timedelta(hours=1, microseconds=1), NOW)
    assert not is_sticky(0, NOW, NOW)


def test_velocity_ages_put_decisions_of_this_batch_first_at_age_zero() -> None:
    rows = [Row("app", decided_at=NOW - timedelta(hours=1)), Row("app", decided_at=NOW - timedelta(hours=5))]
    assert ages(NOW, 0, rows) == (3600.0, 18000.0)
    assert ages(NOW, 2, rows) == (0.0, 0.0, 3600.0, 18000.0)
    assert ages(NOW, 0, []) == ()
