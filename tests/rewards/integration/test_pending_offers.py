"""ListPendingOffers on real servers: open offers, claimed or expired ones gone, fallback waves listed."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget
from tests.rewards.helpers import claim, cust, offer, rewards_service, stub


async def test_pending_offers_list_open_offers_and_fallback_waves(db_target: DbTarget, tmp_path: Path) -> None:
    fallback = "fallback: {arm: m100-10, delay_hours: 48, waves: 1}"
    async with rewards_service(db_target, tmp_path, fallback=fallback, claims=1) as h:
        s = stub(h)

        async def pending(customer: int) -> list[tuple[str, int]]:
            got = await s.ListPendingOffers(rewards_pb2.ListPendingOffersRequest(customer=cust(customer)))
            return [(o.offer_id, o.wave) for o in got.offers]

        mall = await offer(s, 1)
        food = await offer(s, 1, "restaurant")
        assert sorted(await pending(1)) == sorted([(mall.offer_id, 0), (food.offer_id, 0)])
        await claim(s, 1, mall.offer_id)
        assert await pending(1) == [(food.offer_id, 0)]  # claimed offers are gone
        h.clock.advance(hours=48)  # the restaurant offer's 24 h claim window is over; the wave is due
        assert await pending(1) == []
        assert await h.app.passes.fallback() == 1
        waves = (await s.ListPendingOffers(rewards_pb2.ListPendingOffersRequest(customer=cust(1)))).offers
        assert [(o.campaign_id, o.wave, o.reason, o.arm.id) for o in waves] == [
            ("mall", 1, "FALLBACK_WAVE_1", "m100-10")
        ]
        coupon = (await claim(s, 1, waves[0].offer_id)).coupon
        assert coupon.state == rewards_pb2.CLAIMED
        assert await pending(1) == []
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await s.ListPendingOffers(
                rewards_pb2.ListPendingOffersRequest(
                    customer=types_pb2.CustomerRef(ref="1"), page=types_pb2.PageRequest(page_token="x")
                )
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
