"""Fallback waves on real servers: due after the delay, to customers who did not redeem, within the caps."""

from __future__ import annotations

from pathlib import Path

from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget
from tests.rewards.helpers import claim, offer, report, rewards_service, stub

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
