"""A campaign's budget on real servers: concurrent claims never overshoot the total, the daily budget
resets at local midnight, and expiry gives a reservation back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, error_reason
from tests.rewards.helpers import claim, offer, report, rewards_service, stub


async def test_500_concurrent_claims_against_a_budget_for_50_grant_exactly_50(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with rewards_service(db_target, tmp_path, total=50_000, daily=50_000) as h:
        s = stub(h)
        gate = asyncio.Semaphore(50)

        async def offered(n: int) -> str:
            async with gate:
                r = await offer(s, n)
            assert r.outcome == rewards_pb2.OFFERED, r.reason
            return r.offer_id

        offers = await asyncio.gather(*(offered(n) for n in range(500)))
        results = await asyncio.gather(*(claim(s, n, o) for n, o in enumerate(offers)), return_exceptions=True)
        granted = [r for r in results if isinstance(r, rewards_pb2.ClaimResponse)]
        refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(granted) == 50
        assert len(refused) == 450
        assert {e.code() for e in refused} == {grpc.StatusCode.RESOURCE_EXHAUSTED}
        assert {error_reason(e) for e in refused} == {"BUDGET_EXHAUSTED"}
        rep = await report(s)
        assert rep.reserved.fen + rep.spent.fen == 50_000 <= rep.budget_total.fen


async def test_daily_budget_caps_claims_per_local_day(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path, total=100_000, daily=2_000) as h:
        s = stub(h)
        offers = [await offer(s, n) for n in range(4)]
        await claim(s, 0, offers[0].offer_id)
        await claim(s, 1, offers[1].offer_id)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await claim(s, 2, offers[2].offer_id)
        assert error_reason(refused.value) == "DAILY_BUDGET_EXHAUSTED"
        h.clock.advance(hours=15)  # 00:00 next day in Shanghai
        fresh = await offer(s, 3)
        assert (await claim(s, 3, fresh.offer_id)).coupon.state == rewards_pb2.CLAIMED


async def test_expiry_releases_the_reservation(db_target: DbTarget, tmp_path: Path) -> None:
    # One coupon's budget over two months: a pacer re-solving λ on the handful of visits a week later would
    # keep it for later arrivals. This is about the reservation, so λ keeps its starting value.
    async with rewards_service(
        db_target, tmp_path, total=1_000, daily=1_000, claims=1, pacing_interval=30 * 86_400
    ) as h:
        s = stub(h)
        await claim(s, 1, (await offer(s, 1)).offer_id)
        blocked = await offer(s, 2)
        assert (blocked.outcome, blocked.reason) == (rewards_pb2.NOT_OFFERED, "BUDGET_EXHAUSTED")
        h.clock.advance(days=7)
        assert await h.app.passes.expire() == 1
        assert await h.app.passes.expire() == 0
        rep = await report(s)
        assert (rep.reserved.fen, rep.spent.fen) == (0, 0)
        # The budget is free again (total row and the claim day's row).
        h.clock.advance(days=-6)
        assert (await claim(s, 2, (await offer(s, 2)).offer_id)).coupon.state == rewards_pb2.CLAIMED
