"""Earning rules from config: conditions, caps, streaks, first-time bonuses, multipliers, referrals."""

from __future__ import annotations

from datetime import timedelta

from tests.growth.helpers import Client


async def test_per_day_cap_and_streak_bonus(growth: Client) -> None:
    ref = await growth.enroll()
    first = await growth.record(ref, "sign_in")
    assert [(a.kind, a.points, a.growth) for a in first.awards] == [("base", 5, 1)]
    capped = await growth.record(ref, "sign_in")
    assert not capped.awards and [(s.task_id, s.reason) for s in capped.skipped] == [("sign_in", "CAP_PER_DAY")]
    growth.h.clock.advance(days=1)
    await growth.record(ref, "sign_in")
    growth.h.clock.advance(days=1)
    third = await growth.record(ref, "sign_in")  # third day in a row: streak bonus
    assert [(a.kind, a.points) for a in third.awards] == [("base", 5), ("streak", 20)]
    growth.h.clock.advance(days=2)  # a missed day breaks the streak
    growth.h.clock.advance(days=1)
    await growth.record(ref, "sign_in")
    growth.h.clock.advance(days=1)
    again = await growth.record(ref, "sign_in")
    assert [a.kind for a in again.awards] == ["base"]
    assert (await growth.balance(ref)).points_available == 5 * 5 + 20


async def test_conditions_first_time_bonus_and_week_and_lifetime_caps(growth: Client) -> None:
    ref = await growth.enroll()
    small = await growth.record(ref, "pay", amount_fen=999)
    assert not small.awards and not small.skipped  # condition not met: the task does not apply
    first = await growth.record(ref, "pay", amount_fen=1000)
    assert [(a.kind, a.points) for a in first.awards] == [("base", 10), ("first_time", 100)]
    second = await growth.record(ref, "pay", amount_fen=5000)
    assert [(a.kind, a.points) for a in second.awards] == [("base", 10)]
    third = await growth.record(ref, "pay", amount_fen=5000)
    assert [s.reason for s in third.skipped] == ["CAP_PER_WEEK"]
    growth.h.clock.advance(days=7)
    await growth.record(ref, "pay", amount_fen=5000)
    fourth = await growth.record(ref, "pay", amount_fen=5000)
    assert [s.reason for s in fourth.skipped] == ["CAP_LIFETIME"]
    assert (await growth.balance(ref)).points_available == 130


async def test_level_multiplier_applies_to_points(growth: Client) -> None:
    ref = await growth.enroll()
    await growth.record(ref, "grow")
    await growth.record(ref, "grow")  # 200 growth: level l2, multiplier 1.5
    signed = await growth.record(ref, "sign_in")
    assert signed.awards[0].points == 7 and signed.level == "l2"


async def test_referral_rewards_both_sides_once(growth: Client) -> None:
    referrer = await growth.enroll()
    friend = await growth.enroll(referrer=referrer)
    done = await growth.record(friend, "referral_qualified")
    by_customer = {(a.customer.ref, a.kind): a.points for a in done.awards}
    assert by_customer == {(friend, "base"): 20, (referrer, "referral"): 200}
    again = await growth.record(friend, "referral_qualified")
    assert [s.reason for s in again.skipped] == ["REFERRAL_ALREADY_REWARDED"]
    assert (await growth.balance(referrer)).points_available == 200
    assert (await growth.balance(referrer)).growth_total == 10
    stranger = await growth.enroll()
    unknown = await growth.record(stranger, "referral_qualified")
    assert [s.reason for s in unknown.skipped] == ["REFERRER_UNKNOWN"]


async def test_late_event_within_age_counts_on_its_own_day(growth: Client) -> None:
    ref = await growth.enroll()
    yesterday = growth.h.clock.now() - timedelta(days=1)
    await growth.growth.RecordActivity(growth.activity_request(ref, "sign_in", at=yesterday))
    today = await growth.record(ref, "sign_in")
    assert [a.kind for a in today.awards] == ["base"]  # different days: both count
    assert (await growth.balance(ref)).points_available == 10
