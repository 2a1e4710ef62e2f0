"""Rewards background passes running at once (the loop, a second process) give one effect between them:
every coupon expires once and frees its reservation once, every fallback wave goes out once, and
persisting λ never fails."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget
from tests.rewards.helpers import claim, offer, report, rewards_service, stub

CUSTOMERS = 6
PASSES = 5


async def _count(h: object, sql: str) -> int:
    async with h.app.db.read() as s:  # type: ignore[attr-defined]
        return int((await s.execute(text(sql))).scalar_one())


async def test_concurrent_expiry_passes_release_each_reservation_once(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        for n in range(CUSTOMERS):
            assert (await claim(s, n, (await offer(s, n)).offer_id)).coupon.state == rewards_pb2.CLAIMED
        assert (await report(s)).reserved.fen == 1000 * CUSTOMERS
        h.clock.advance(days=8)
        counts = await asyncio.gather(*(h.app.passes.expire() for _ in range(PASSES)))
        assert sum(counts) == CUSTOMERS, counts
        rep = await report(s)
        assert (rep.reserved.fen, rep.spent.fen) == (0, 0)
        assert await _count(h, "SELECT COUNT(*) FROM coupons WHERE state = 'EXPIRED'") == CUSTOMERS
        assert await _count(h, "SELECT COALESCE(SUM(committed_fen), 0) FROM budget_days") == 0


async def test_concurrent_fallback_passes_send_each_wave_once(db_target: DbTarget, tmp_path: Path) -> None:
    fallback = "fallback: {arm: m100-10, delay_hours: 48, waves: 1}"
    async with rewards_service(db_target, tmp_path, fallback=fallback) as h:
        s = stub(h)
        for n in range(CUSTOMERS):
            await claim(s, n, (await offer(s, n)).offer_id)  # claimed, never redeemed
        h.clock.advance(hours=49)
        counts = await asyncio.gather(*(h.app.passes.fallback() for _ in range(PASSES)))
        assert sum(counts) == CUSTOMERS, counts
        assert await _count(h, "SELECT COUNT(*) FROM decisions WHERE wave = 1") == CUSTOMERS
        assert await _count(h, "SELECT COUNT(*) FROM coupons WHERE fallback_sent = 1") == CUSTOMERS
        # One touch per customer for the offer (Monday) and one for the wave (Wednesday), not one per pass.
        assert await _count(h, "SELECT COUNT(*) FROM contacts WHERE recent = '1,0,1,0,0,0,0'") == CUSTOMERS
        assert await h.app.passes.fallback() == 0


async def test_concurrent_policy_flushes_write_one_row_per_campaign(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        for n in range(3):
            await offer(s, n)
            await offer(s, n, "restaurant")
        await asyncio.gather(*(h.app.passes.flush_policy() for _ in range(PASSES)))
        assert await _count(h, "SELECT COUNT(*) FROM policy_state") == len(h.app.runtime.campaigns) == 2
