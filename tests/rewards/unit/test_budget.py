"""The campaign budget's arithmetic: what is left of the total and of today's budget, the largest face
value a claim could reserve, and the time the pacer spreads each over."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from services.rewards.config import Budget
from services.rewards.domain.budget import Committed, Headroom, headroom, pacing_horizon

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_headroom_counts_reserved_and_spent_against_the_total_and_today_against_the_day() -> None:
    left = headroom(
        Budget(total_fen=10_000, daily_fen=3_000), Committed(reserved_fen=2_000, spent_fen=5_000, today_fen=500)
    )
    assert left == Headroom(total_fen=3_000, today_fen=2_500)
    assert left.claimable_fen == 2_500


def test_the_smaller_budget_bounds_what_a_claim_could_reserve() -> None:
    assert Headroom(total_fen=800, today_fen=2_000).claimable_fen == 800
    assert headroom(Budget(total_fen=1_000, daily_fen=1_000), Committed(0, 0, 0)).claimable_fen == 1_000


def test_pacing_horizon_runs_to_the_campaign_end_and_to_local_midnight() -> None:
    now = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    end = datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
    seconds_left, seconds_left_today = pacing_horizon(end, now, SHANGHAI)
    assert seconds_left == 5 * 86_400
    assert seconds_left_today == 15 * 3_600  # 09:00 → 24:00 local
