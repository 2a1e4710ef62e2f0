"""Fallback waves on real servers: due after the delay, to customers who did not redeem, within the caps;
a capped wave deferred (its fate in the report) and sent later; the higher priority wins the last touch."""

from __future__ import annotations

from pathlib import Path

from services.common.clock import ManualClock
from services.rewards.app import build
from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, running_service
from tests.rewards.helpers import MONDAY_9AM_LOCAL, claim, config_text, offer, report, rewards_service, stub

OFFERED = rewards_pb2.OFFERED


async def test_fallback_waves_go_to_non_redeemers_within_caps(db_target: DbTarget, tmp_path: Path) -> None:
    fallback = "fallback: {arm: m100-10, delay_hours: 72, waves: 2, wave_interval_hours: 48}"
    async with rewards_service(db_target, tmp_path, fallback=fallback) as h:
        s = stub(h)
        await claim(s, 1, (await offer(s, 1)).offer_id)  # claims, never redeems
        await claim(s, 2, (await offer(s, 2)).offer_id)
        assert await h.app.passes.fallback() == 0  # not due yet
        h.clock.advance(hours=72)
        # Customer 2 uses up today's touches elsewhere: their wave waits for a later pass.
        for _ in range(3):
            assert (await offer(s, 2, "restaurant")).outcome == OFFERED
        assert await h.app.passes.fallback() == 1
        assert await h.app.passes.fallback() == 0  # wave 1 already sent to customer 1
        h.clock.advance(hours=24)
        assert await h.app.passes.fallback() == 1  # customer 2's wave 1, now within the cap
        h.clock.advance(hours=24)
        assert await h.app.passes.fallback() == 1  # customer 1's wave 2 (48h after wave 1's due time)
        h.clock.advance(hours=100)
        assert await h.app.passes.fallback() == 1  # customer 2's wave 2; then no waves are left
        assert await h.app.passes.fallback() == 0
        rep = await report(s)
        assert sum(r.offers for r in rep.funnel) == 2 + 4
        # Every wave touched in the end; customer 2's first was deferred on two passes, the second on one.
        fates = {(f.source, f.fate, f.reason): (f.count, f.deferrals) for f in rep.contact_fates}
        assert fates[("FALLBACK", "TOUCHED", "")] == (4, 3)
        assert ("FALLBACK", "DEFERRED", "CONTACT_CAP_DAY") not in fates


async def test_the_higher_priority_wave_wins_the_last_touch_and_the_other_waits(
    db_target: DbTarget, tmp_path: Path
) -> None:
    both = "fallback: {arm: m100-10, delay_hours: 72, waves: 1}"
    text = (
        config_text(fallback=both).rstrip()
        + "\n    fallback: {arm: m50-5, delay_hours: 72, waves: 1}\n    priority: 10\n"
    )
    path = tmp_path / "rewards.yaml"
    path.write_text(text, encoding="utf-8")
    async with running_service(build, db_target, path, clock=ManualClock(MONDAY_9AM_LOCAL)) as h:
        s = stub(h)
        await claim(s, 1, (await offer(s, 1, "mall")).offer_id)
        await claim(s, 1, (await offer(s, 1, "restaurant")).offer_id)
        h.clock.advance(hours=72)  # Thursday: both waves due, two touches made, room for one today
        for _ in range(2):
            assert (await offer(s, 1, "restaurant")).outcome == OFFERED
        assert await h.app.passes.fallback() == 1
        food, mall = await report(s, "food"), await report(s, "mall")
        assert [(f.source, f.fate) for f in food.contact_fates if f.source == "FALLBACK"] == [("FALLBACK", "TOUCHED")]
        deferred = [f for f in mall.contact_fates if f.source == "FALLBACK"]
        assert [(f.fate, f.reason, f.count) for f in deferred] == [("DEFERRED", "CONTACT_CAP_DAY", 1)]
        h.clock.advance(hours=24)  # Friday: the 7 days hold Monday's 2 and Thursday's 3
        assert await h.app.passes.fallback() == 0
        deferred = [f for f in (await report(s, "mall")).contact_fates if f.source == "FALLBACK"]
        assert [(f.fate, f.reason, f.deferrals) for f in deferred] == [("DEFERRED", "CONTACT_CAP_WEEK", 2)]
        h.clock.advance(hours=24 * 3)  # Monday: the 7 days ending today leave out last Monday
        assert await h.app.passes.fallback() == 1
        touched = [f for f in (await report(s, "mall")).contact_fates if f.source == "FALLBACK"]
        assert [(f.fate, f.count, f.deferrals) for f in touched] == [("TOUCHED", 1, 2)]
