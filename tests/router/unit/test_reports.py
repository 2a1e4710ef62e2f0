"""Ops report arithmetic: per-version figures, the routing mix (repeats apart) and its shares."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from services.router.domain import control as ctl
from services.router.domain.reports import local_days, role, routing_mix, shares, version_figures


def test_version_figures_count_acted_shadowed_agreed_and_fallbacks() -> None:
    stats = [
        SimpleNamespace(policy_version="v1", kind="live", destination="IN_HOUSE", n=3, agreed=None, fallbacks=1),
        SimpleNamespace(policy_version="v1", kind="live", destination="PARTNER_POOL", n=2, agreed=None, fallbacks=0),
        SimpleNamespace(policy_version="v2", kind="shadow", destination="IN_HOUSE", n=4, agreed=3, fallbacks=0),
    ]
    figures = version_figures(stats)
    v1, v2 = figures["v1"], figures["v2"]
    assert (v1.acted, v1.fallbacks, dict(v1.by_destination)) == (5, 1, {"IN_HOUSE": 3, "PARTNER_POOL": 2})
    assert (v2.shadowed, v2.agreed, v2.agreement) == (4, 3, 0.75)
    assert v1.agreement == 0.0


def test_roles_follow_the_state() -> None:
    state = ctl.set_candidate(ctl.apply_file(None, "a", None)[0], "b", ctl.Mode.SHADOW, 0.0)
    assert [role(v, state) for v in ("a", "b", "c")] == ["champion", "candidate", "retired"]


def test_the_mix_counts_live_decisions_and_repeats_apart() -> None:
    def group(kind: str, day: str, tier: str, n: int) -> SimpleNamespace:
        return SimpleNamespace(kind=kind, local_day=day, channel="app", tier=tier, destination="POOL", n=n)

    mix = routing_mix([group("live", "d1", "prime", 2), group("live", "d2", "tail", 1), group("repeat", "d1", "x", 5)])
    assert (mix.total, mix.repeats) == (3, 5)
    assert mix.by["tier"] == Counter({"prime": 2, "tail": 1})
    assert mix.by["day"] == Counter({"d1": 2, "d2": 1})


def test_shares_are_largest_first_or_by_key() -> None:
    counter = Counter({"b": 1, "a": 1, "c": 2})
    assert shares(counter, 4) == [("c", 2, 0.5), ("a", 1, 0.25), ("b", 1, 0.25)]
    assert [k for k, _, _ in shares(counter, 4, ordered_by_key=True)] == ["a", "b", "c"]
    assert shares(Counter(), 0) == []


def test_local_days_of_a_window_end_before_its_end() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    start, end = datetime(2026, 1, 4, 16, 0, tzinfo=UTC), datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
    assert local_days(start, end, zone) == ("2026-01-05", "2026-01-05")
