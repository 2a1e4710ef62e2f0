"""Partner cap windows (hour, day, week, month) follow the configured time zone."""

from __future__ import annotations

from datetime import UTC, datetime

from services.router.partners.domain import cap_window_keys


def test_cap_windows_follow_the_configured_time_zone() -> None:
    late = datetime(2026, 1, 4, 16, 30, tzinfo=UTC)  # 00:30 on Monday 5 January in Shanghai
    assert cap_window_keys(late, "Asia/Shanghai", ["hour", "day", "week", "month"]) == {
        "hour": "2026-01-05T00",
        "day": "2026-01-05",
        "week": "2026-W02",
        "month": "2026-01",
    }
    assert cap_window_keys(late, "UTC", ["day"]) == {"day": "2026-01-04"}
