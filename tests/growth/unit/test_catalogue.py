"""Which rights a member may redeem: the level floor, the level's quota, stock and price, in that order."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from services.growth.config import Quota, RightDef
from services.growth.domain import catalogue
from services.growth.domain.catalogue import Holder, RightView
from tests.growth.helpers import programme

CFG = programme()
TZ = ZoneInfo(CFG.timezone)
NOW = datetime(2026, 3, 1, tzinfo=UTC)
LOUNGE = next(r for r in CFG.rights if r.id == "lounge")  # min l1, 2 a year, stock 3, 100 points


def view(stock_used: int = 0, holder: Holder | None = None) -> RightView:
    return catalogue.view(CFG, LOUNGE, stock_used, holder, NOW, TZ)


def test_without_a_member_every_right_shows_its_stock_and_no_quota() -> None:
    assert view(1) == RightView(LOUNGE, 2, True, "", -1)
    assert view(5).stock_left == 0


def test_an_eligible_member_sees_the_quota_left_this_period() -> None:
    holder = Holder(level_index=1, points_available=500, quota_used={("lounge", "y:2026"): 1, ("lounge", "y:2025"): 2})
    assert view(0, holder) == RightView(LOUNGE, 3, True, "", 1)


def test_the_first_refusal_that_applies_is_the_reason() -> None:
    assert view(0, Holder(level_index=0, points_available=500, quota_used={})).reason == "LEVEL_NOT_ELIGIBLE"
    used_up = Holder(level_index=1, points_available=500, quota_used={("lounge", "y:2026"): 2})
    assert (view(3, used_up).reason, view(3, used_up).quota_left) == ("QUOTA_EXCEEDED", 0)
    assert view(3, Holder(level_index=1, points_available=500, quota_used={})).reason == "OUT_OF_STOCK"
    poor = Holder(level_index=1, points_available=99, quota_used={})
    assert (view(0, poor).eligible, view(0, poor).reason) == (False, "INSUFFICIENT_POINTS")


def test_a_level_s_own_quota_replaces_the_general_one() -> None:
    right = RightDef(
        id="lounge",
        name="Lounge",
        points_price=1,
        stock=9,
        min_level="l1",
        quota=Quota(count=2),
        level_quotas={"l3": Quota(count=4)},
    )
    assert catalogue.quota_for(right, "l3") == Quota(count=4)
    assert catalogue.quota_for(right, "l1") == Quota(count=2)
    assert catalogue.level_allows(CFG, right, 1) and not catalogue.level_allows(CFG, right, 0)
