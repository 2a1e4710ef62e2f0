"""The journey funnel against a hand-computed example: customers counted once per step, the holdout's
would-have touches, entries counted per fate, the median time between steps and the converted share's
difference with its 95% interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.rewards.domain.journey_funnel import StepRow, Steps, funnel

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
H = timedelta(hours=1)


def row(customer: str, step: str, at: datetime, detail: str = "", entry: int = 1) -> StepRow:
    return StepRow(customer, entry, step, at, detail)


def test_the_funnel_matches_the_hand_computed_example() -> None:
    rows = [
        row("t1", "ENTERED", T0),
        row("t1", "TOUCHED", T0, "d1:m100-10"),
        row("t1", "REENTRY_BLOCKED", T0 + 48 * H),
        row("t2", "ENTERED", T0),
        row("t2", "DEFERRED", T0, "CONTACT_CAP_DAY"),
        row("t2", "TOUCHED", T0 + 24 * H, "d2:m100-10"),
        row("t3", "ENTERED", T0),
        row("t3", "EXITED", T0 + 2 * H, "outside.wealth_purchased"),
        row("t4", "ENTERED", T0),
        row("t4", "DEFERRED", T0, "CONTACT_CAP_WEEK"),
        row("t4", "ROUTED", T0 + 30 * H, "VALIDITY_PASSED"),
        row("h1", "ENTERED", T0),
        row("h1", "HELD_OUT", T0),
        row("h1", "WOULD_HAVE_TOUCHED", T0),
        row("h2", "ENTERED", T0),
        row("h2", "HELD_OUT", T0),
        row("h2", "WOULD_HAVE_TOUCHED", T0 + H),
        row("s1", "SCREENED", T0, "FLAG:risk_flagged"),
    ]
    groups = {
        "t1": "treatment",
        "t2": "treatment",
        "t3": "treatment",
        "t4": "treatment",
        "h1": "holdout",
        "h2": "holdout",
    }
    coupons = {"d1": (T0 + H, T0 + 3 * H), "d2": (T0 + 26 * H, None)}
    f = funnel(rows, groups, coupons, converted={"t1", "t2"}, next_touched={"t1": T0 + 4 * H, "h1": T0 - H})
    assert f.treated == Steps(reached=4, touched=2, claimed=2, redeemed=1, next_product=1, converted=2)
    # h1's wave-2 touch came before the one it would have had: not a next product of this journey.
    assert f.holdout == Steps(reached=2, touched=2, claimed=0, redeemed=0, next_product=0, converted=0)
    assert f.counted == {"SCREENED": 1, "REENTRY_BLOCKED": 1, "EXITED": 1, "DEFERRED": 2, "ROUTED": 1, "FOLLOW_UP": 0}
    # Entry to touch: 0 h and 24 h; touch to claim: 1 h and 2 h; claim to redemption: 2 h.
    assert (f.hours_to_touch, f.hours_touch_to_claim, f.hours_claim_to_redeem) == (12.0, 1.5, 2.0)
    # Converted: 2 of 4 treated, 0 of 2 held out. Difference 0.5, standard error sqrt(0.5·0.5/4 + 0) = 0.25.
    d = f.converted_difference
    assert d.defined
    assert d.point == pytest.approx(0.5)
    assert (d.low, d.high) == (
        pytest.approx(0.5 - 1.959964 * 0.25, abs=1e-5),
        pytest.approx(0.5 + 1.959964 * 0.25, abs=1e-5),
    )


def test_no_holdout_leaves_the_difference_undefined() -> None:
    f = funnel([row("t1", "ENTERED", T0)], {"t1": "treatment"}, {}, set(), {})
    assert f.treated.reached == 1
    assert not f.converted_difference.defined
