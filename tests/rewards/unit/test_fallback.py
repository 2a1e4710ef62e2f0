"""The fallback waves' schedule: the first wave after the delay, the next ones every interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.rewards.config import Fallback
from services.rewards.domain import fallback

CLAIMED = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
FB = Fallback(arm="m100-10", delay_hours=72, waves=3, wave_interval_hours=48)


def test_waves_are_due_after_the_delay_then_every_interval() -> None:
    assert fallback.wave_due(FB, CLAIMED, 0) == CLAIMED + timedelta(hours=72)
    assert fallback.wave_due(FB, CLAIMED, 1) == CLAIMED + timedelta(hours=120)
    assert fallback.wave_due(FB, CLAIMED, 2) == CLAIMED + timedelta(hours=168)


def test_only_coupons_claimed_a_delay_ago_can_have_a_wave_due() -> None:
    now = CLAIMED + timedelta(hours=72)
    assert fallback.claimed_by(FB, now) == CLAIMED
    assert fallback.wave_due(FB, fallback.claimed_by(FB, now), 0) == now


def test_each_wave_names_itself_in_the_decision() -> None:
    assert [fallback.reason(sent) for sent in range(3)] == ["FALLBACK_WAVE_1", "FALLBACK_WAVE_2", "FALLBACK_WAVE_3"]
