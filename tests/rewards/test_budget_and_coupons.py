"""Claim → redeem → refund → expiry on real servers: the budget never overshoots, redemption is
idempotent by order id, refunds and expiry give budget back."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from services.rewards import workers
from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2
from tests.rewards.support import claim, cust, offer, redeem, report, rewards_service, stub
from tests.support import DbTarget, Harness, error_reason, field_violations, key


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


async def test_redeem_is_idempotent_by_order_id_and_refund_restores_budget(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        coupon = (await claim(s, 1, (await offer(s, 1)).offer_id)).coupon
        first = await redeem(s, 1, coupon.coupon_id, "order-1")
        assert (first.discount.fen, first.amount_due.fen) == (1000, 11000)
        again = await redeem(s, 1, coupon.coupon_id, "order-1")  # retry under a new idempotency key
        assert again == first
        rep = await report(s)
        assert (rep.spent.fen, rep.reserved.fen) == (1000, 0)
        assert [(r.arm_id, r.offers, r.claims, r.redemptions, r.gmv.fen) for r in rep.funnel] == [
            ("m100-10", 1, 1, 1, 12000)
        ]

        other = (await claim(s, 2, (await offer(s, 2)).offer_id)).coupon
        with pytest.raises(grpc.aio.AioRpcError) as reused:
            await redeem(s, 2, other.coupon_id, "order-1")
        assert error_reason(reused.value) == "ORDER_ALREADY_REDEEMED"

        refund = await s.RefundOrder(rewards_pb2.RefundOrderRequest(idempotency_key=key(), order_id="order-1"))
        assert refund.coupon.state == rewards_pb2.CLAIMED
        assert refund.restored.fen == 1000
        rep = await report(s)
        assert (rep.spent.fen, rep.reserved.fen) == (0, 2000)  # both coupons reserved, nothing spent
        second = await redeem(s, 1, coupon.coupon_id, "order-2")
        assert second.coupon.state == rewards_pb2.REDEEMED
        assert (await report(s)).spent.fen == 1000


async def test_redeem_refusals_change_nothing(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path, validity=1) as h:
        s = stub(h)
        coupon = (await claim(s, 1, (await offer(s, 1)).offer_id)).coupon

        async def refused(customer: int, order: str, amount: int, scene: str = "mall") -> grpc.aio.AioRpcError:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await redeem(s, customer, coupon.coupon_id, order, amount, scene)
            return err.value

        bad = await refused(1, "o-1", 0, "cinema")
        assert bad.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(field_violations(bad)) == {"order_amount.fen", "scene"}
        assert error_reason(await refused(2, "o-2", 12000)) == "COUPON_NOT_OWNED"
        assert error_reason(await refused(1, "o-3", 9999)) == "BELOW_THRESHOLD"
        assert error_reason(await refused(1, "o-4", 12000, "restaurant")) == "SCENE_NOT_ALLOWED"
        rep = await report(s)
        assert (rep.spent.fen, rep.reserved.fen) == (0, 1000)
        await redeem(s, 1, coupon.coupon_id, "o-5")
        assert error_reason(await refused(1, "o-6", 12000)) == "COUPON_ALREADY_USED"

        late = (await claim(s, 3, (await offer(s, 3)).offer_id)).coupon
        h.clock.advance(days=1, seconds=1)
        with pytest.raises(grpc.aio.AioRpcError) as expired:
            await redeem(s, 3, late.coupon_id, "o-7")
        assert error_reason(expired.value) == "COUPON_EXPIRED"


async def test_expiry_releases_the_reservation(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path, total=1_000, daily=1_000, claims=1) as h:
        s = stub(h)
        await claim(s, 1, (await offer(s, 1)).offer_id)
        blocked = await offer(s, 2)
        assert (blocked.outcome, blocked.reason) == (rewards_pb2.NOT_OFFERED, "BUDGET_EXHAUSTED")
        h.clock.advance(days=7)
        assert await workers.expire_pass(h.app) == 1
        assert await workers.expire_pass(h.app) == 0
        rep = await report(s)
        assert (rep.reserved.fen, rep.spent.fen) == (0, 0)
        # The budget is free again (total row and the claim day's row).
        h.clock.advance(days=-6)
        assert (await claim(s, 2, (await offer(s, 2)).offer_id)).coupon.state == rewards_pb2.CLAIMED


async def test_unknown_campaign_and_scene_are_refused(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await s.Offer(
                rewards_pb2.OfferRequest(idempotency_key=key(), customer=cust(1), scene="mall", campaign_id="nope")
            )
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await s.Offer(rewards_pb2.OfferRequest(idempotency_key=key(), customer=cust(1), scene="casino"))
        assert set(field_violations(bad.value)) == {"scene"}
        with pytest.raises(grpc.aio.AioRpcError) as pay:
            await s.RecordPayment(
                rewards_pb2.RecordPaymentRequest(
                    idempotency_key=key(), customer=cust(1), scene="mall", order_id="p1", amount=types_pb2.Money(fen=-5)
                )
            )
        assert set(field_violations(pay.value)) == {"amount.fen"}
        assert (await report(s)).uplift.treated.customers == 0  # nothing recorded


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


def _learned(h: Harness) -> dict[tuple[str, str], tuple[int, int]]:
    """(segment, arm) → (trials, successes) the running policy has learned for campaign 'mall'."""
    posteriors = h.app.runtime.campaign(h.app.config.model, "mall").posteriors
    return {cell: (c.trials, c.successes) for cell, c in posteriors.cells.items() if c.trials or c.successes}


async def test_a_refund_takes_back_what_the_redemption_taught_the_policy(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        made = await offer(s, 1)
        coupon = (await claim(s, 1, made.offer_id)).coupon
        cell = (made.segment, made.arm.id)
        assert _learned(h)[cell] == (1, 0)
        await redeem(s, 1, coupon.coupon_id, "order-1")
        assert _learned(h)[cell] == (1, 1)
        await s.RefundOrder(rewards_pb2.RefundOrderRequest(idempotency_key=key(), order_id="order-1"))
        assert _learned(h)[cell] == (1, 0)
        await redeem(s, 1, coupon.coupon_id, "order-2")  # paid again with the same coupon
        live = _learned(h)
        assert live[cell] == (1, 1)
    # A restart rebuilds the posteriors from the recorded decisions and coupons: the same numbers.
    async with rewards_service(db_target, tmp_path) as restarted:
        assert _learned(restarted) == live


async def test_a_fallback_coupon_redeemed_teaches_the_policy_nothing(db_target: DbTarget, tmp_path: Path) -> None:
    """Fallback waves are a fixed arm, not the policy's choice: neither their trials nor their redemptions
    count, live or when a restart rebuilds the posteriors."""
    fallback = "fallback: {arm: m100-10, delay_hours: 48, waves: 1}"
    async with rewards_service(db_target, tmp_path, fallback=fallback) as h:
        s = stub(h)
        await claim(s, 1, (await offer(s, 1)).offer_id)  # claimed, never redeemed
        before = _learned(h)
        h.clock.advance(hours=48)
        assert await workers.fallback_pass(h.app) == 1
        (wave,) = (await s.ListPendingOffers(rewards_pb2.ListPendingOffersRequest(customer=cust(1)))).offers
        coupon = (await claim(s, 1, wave.offer_id)).coupon
        assert (await redeem(s, 1, coupon.coupon_id, "order-fb")).coupon.state == rewards_pb2.REDEEMED
        assert _learned(h) == before
    async with rewards_service(db_target, tmp_path, fallback=fallback) as restarted:
        assert _learned(restarted) == before
