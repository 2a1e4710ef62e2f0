"""A member's standing: effective level and multiplier, progress to the next level, and whether a
review is still due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.growth.domain import standing
from services.growth.domain.standing import MemberState
from tests.growth.helpers import programme

CFG = programme()  # l0 0, l1 100, l2 200 (x1.5), l3 300 (x2); reviews 1 January and 1 July, Shanghai
NOW = datetime(2026, 3, 1, tzinfo=UTC)
SOON, PAST = NOW + timedelta(days=10), NOW - timedelta(days=1)


@dataclass
class Member:
    level: str
    override_level: str | None = None
    override_until: datetime | None = None
    override_reason: str | None = None
    grace_until: datetime | None = None


def test_an_active_override_raises_the_effective_level_and_its_multiplier() -> None:
    member = MemberState("cust_a", "l0", None, "l2", SOON, growth_total=0)
    assert standing.effective_level(CFG, member, NOW) == "l2"
    assert standing.multiplier(CFG, member, NOW) == 1.5
    assert standing.effective_level(CFG, member, SOON) == "l0"  # over at its end
    assert standing.multiplier(CFG, member, SOON) == 1.0


def test_progress_shows_what_the_next_level_needs_and_what_keeps_this_one() -> None:
    p = standing.progress(CFG, Member("l1"), 150, NOW)
    assert (p.level, p.earned_level, p.window_growth, p.next_level) == ("l1", "l1", 150, "l2")
    assert (p.growth_to_next, p.growth_to_keep) == (50, 0)
    assert p.next_review_at == datetime(2026, 7, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    short = standing.progress(CFG, Member("l2", grace_until=SOON), 120, NOW)
    assert (short.growth_to_keep, short.grace_until) == (80, SOON)
    top = standing.progress(CFG, Member("l3"), 400, NOW)
    assert (top.next_level, top.growth_to_next) == ("", 0)


def test_progress_reports_an_override_only_while_it_lasts() -> None:
    active = standing.progress(CFG, Member("l0", "l2", SOON, "vip"), 0, NOW)
    assert (active.level, active.earned_level, active.override_level, active.override_reason) == (
        "l2",
        "l0",
        "l2",
        "vip",
    )
    assert active.override_until == SOON
    over = standing.progress(CFG, Member("l0", "l2", PAST, "vip"), 0, NOW)
    assert (over.level, over.override_level, over.override_until, over.override_reason) == ("l0", "", None, "")


def test_a_review_is_due_until_applied_or_when_a_grace_period_has_ended() -> None:
    review_at = datetime(2026, 1, 1, tzinfo=UTC)
    assert standing.review_due(None, None, review_at, NOW)
    assert standing.review_due(None, review_at - timedelta(days=1), review_at, NOW)
    assert not standing.review_due(None, review_at, review_at, NOW)
    assert standing.review_due(PAST, review_at, review_at, NOW)  # grace over
    assert not standing.review_due(SOON, review_at, review_at, NOW)
