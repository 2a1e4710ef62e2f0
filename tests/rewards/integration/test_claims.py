"""Claim on real servers: the claims per customer, and an offer claimed twice or by someone else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, error_reason
from tests.rewards.helpers import claim, config_text, cust, offer, rewards_service, stub


async def test_claim_limit_and_double_claim(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path, claims=1) as h:
        s = stub(h)
        first = await offer(s, 1)
        await claim(s, 1, first.offer_id)
        with pytest.raises(grpc.aio.AioRpcError) as twice:
            await claim(s, 1, first.offer_id)
        assert error_reason(twice.value) == "OFFER_ALREADY_CLAIMED"
        again = await offer(s, 1)
        assert (again.outcome, again.reason) == (rewards_pb2.NOT_OFFERED, "CLAIM_LIMIT")
        h.clock.advance(timedelta(hours=1))
        with pytest.raises(grpc.aio.AioRpcError) as stranger:
            await claim(s, 2, first.offer_id)
        assert error_reason(stranger.value) == "OFFER_NOT_OWNED"


async def test_a_claim_issues_the_coupon_as_offered_whatever_the_config_says_of_it_since(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with rewards_service(db_target, tmp_path, claims=5) as h:
        s = stub(h)
        before = [await offer(s, n) for n in (1, 2, 3)]
        assert [o.arm.discount.fen for o in before] == [1000] * 3
        # Ops raise the coupon's discount and shorten its validity under the same arm id.
        h.write_config(config_text(claims=5, validity=3).replace("discount_fen: 1000", "discount_fen: 9000"))
        assert h.app.config.reload()[0]
        pending = await s.ListPendingOffers(rewards_pb2.ListPendingOffersRequest(customer=cust(1)))
        assert [(p.arm.discount.fen, p.arm.validity_days) for p in pending.offers] == [(1000, 7)]
        coupon = (await claim(s, 1, before[0].offer_id)).coupon
        assert (coupon.arm.threshold.fen, coupon.arm.discount.fen, coupon.arm.validity_days) == (10000, 1000, 7)
        assert coupon.valid_until.ToDatetime() - coupon.claimed_at.ToDatetime() == timedelta(days=7)
        report = await s.GetCampaignReport(rewards_pb2.GetCampaignReportRequest(campaign_id="mall"))
        assert report.reserved.fen == 1000  # the budget holds what was offered, not the new face value
        after = await offer(s, 4)
        assert (await claim(s, 4, after.offer_id)).coupon.arm.discount.fen == 9000  # new offers, new terms
        # The arm withdrawn (renamed): its open offers are refused as such, not as a campaign that stopped.
        h.write_config(config_text(claims=5).replace("id: m100-10", "id: m100-12"))
        assert h.app.config.reload()[0]
        with pytest.raises(grpc.aio.AioRpcError) as withdrawn:
            await claim(s, 2, before[1].offer_id)
        assert withdrawn.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_reason(withdrawn.value) == "OFFER_WITHDRAWN"
        assert "no longer offers coupon m100-10" in withdrawn.value.details()
