"""Customer tags against the rules that match them: which conditions a profile fails (the explanation of
NOT_ELIGIBLE) and which segment it falls in."""

from __future__ import annotations

from services.rewards.config import Range, Segment, TagRule
from services.rewards.domain.profile import OTHER_SEGMENT, Profile, segment_of, unmet

ADULT_MASS_APP = TagRule(asset_tiers=["mass"], age=Range(min=18), channels=["app"])


def test_a_matching_profile_fails_nothing() -> None:
    assert unmet(ADULT_MASS_APP, Profile(asset_tier="mass", age=30, channel="app")) == []
    assert unmet(TagRule(), Profile()) == []


def test_every_failed_condition_is_named_in_rule_order() -> None:
    rule = TagRule(
        asset_tiers=["affluent"],
        age=Range(min=18, max=60),
        payment_interests=["dining"],
        channels=["app"],
        monthly_payment_count=Range(min=1),
        monthly_payment_fen=Range(max=100_000),
    )
    profile = Profile(
        asset_tier="mass",
        age=70,
        payment_interests=frozenset({"travel"}),
        channel="sms",
        monthly_payment_count=0,
        monthly_payment_fen=200_000,
    )
    assert unmet(rule, profile) == [
        "asset_tier",
        "age",
        "payment_interests",
        "channel",
        "monthly_payment_count",
        "monthly_payment_fen",
    ]


def test_ranges_are_inclusive_and_open_where_a_bound_is_missing() -> None:
    rule = TagRule(age=Range(min=18, max=60))
    assert unmet(rule, Profile(age=18)) == unmet(rule, Profile(age=60)) == []
    assert unmet(rule, Profile(age=17)) == ["age"]
    assert unmet(TagRule(age=Range(max=60)), Profile(age=0)) == []


def test_any_one_payment_interest_is_enough() -> None:
    rule = TagRule(payment_interests=["dining", "travel"])
    assert unmet(rule, Profile(payment_interests=frozenset({"travel", "fuel"}))) == []


def test_the_first_matching_segment_wins_and_other_catches_the_rest() -> None:
    segments = [
        Segment(id="dormant", when=TagRule(monthly_payment_count=Range(max=0))),
        Segment(id="young", when=TagRule(age=Range(max=25))),
    ]
    assert segment_of(segments, Profile(age=20, monthly_payment_count=0)) == "dormant"
    assert segment_of(segments, Profile(age=20, monthly_payment_count=4)) == "young"
    assert segment_of(segments, Profile(age=40, monthly_payment_count=4)) == OTHER_SEGMENT
    assert segment_of([], Profile()) == OTHER_SEGMENT
