"""What the running policy learns from committed calls on real servers, and that a restart rebuilds the
same posteriors from the recorded decisions."""

from __future__ import annotations

from pathlib import Path

from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, Harness, key
from tests.rewards.helpers import claim, cust, offer, redeem, rewards_service, stub


def _learned(h: Harness) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    """(segment, arm) → (trials, successes, claims, expired) the running policy learned for campaign 'mall'."""
    posteriors = h.app.runtime.campaign(h.app.config.model, "mall").posteriors
    return {
        cell: (c.trials, c.successes, c.claims, c.expired)
        for cell, c in posteriors.cells.items()
        if c.trials or c.successes
    }


async def test_a_refund_takes_back_what_the_redemption_taught_the_policy(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        made = await offer(s, 1)
        coupon = (await claim(s, 1, made.offer_id)).coupon
        cell = (made.segment, made.arm.id)
        assert _learned(h)[cell] == (1, 0, 1, 0)
        await redeem(s, 1, coupon.coupon_id, "order-1")
        assert _learned(h)[cell] == (1, 1, 1, 0)
        await s.RefundOrder(rewards_pb2.RefundOrderRequest(idempotency_key=key(), order_id="order-1"))
        assert _learned(h)[cell] == (1, 0, 1, 0)
        await redeem(s, 1, coupon.coupon_id, "order-2")  # paid again with the same coupon
        live = _learned(h)
        assert live[cell] == (1, 1, 1, 0)
    # A restart rebuilds the posteriors from the recorded decisions and coupons: the same numbers.
    async with rewards_service(db_target, tmp_path) as restarted:
        assert _learned(restarted) == live


async def test_a_refund_after_the_coupon_lapsed_counts_its_claim_expired_live_and_rebuilt(
    db_target: DbTarget, tmp_path: Path
) -> None:
    """Refunded within its validity a coupon's claim is pending again, on the cell and the claim clock; refunded
    after it, the coupon is stored expired and the running policy counts it so. A restart agrees."""
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        made = [(n, m) for n in range(1, 12) if (m := await offer(s, n)).arm.id][:2]
        assert len(made) == 2
        coupons = [(await claim(s, n, m.offer_id)).coupon for n, m in made]
        h.clock.advance(hours=2)
        for (n, _m), coupon in zip(made, coupons, strict=True):
            await redeem(s, n, coupon.coupon_id, f"order-{n}")
        h.clock.advance(hours=1)
        await s.RefundOrder(rewards_pb2.RefundOrderRequest(idempotency_key=key(), order_id=f"order-{made[0][0]}"))
        pending, redeemed, delay, expired, _now = _clock(h)
        assert (sum(pending.values()), redeemed, delay, expired) == (1, 1, 2.0, 0)
        h.clock.advance(days=max(m.arm.validity_days for _n, m in made) + 1)
        lapsed = await s.RefundOrder(
            rewards_pb2.RefundOrderRequest(idempotency_key=key(), order_id=f"order-{made[1][0]}")
        )
        assert lapsed.coupon.state == rewards_pb2.EXPIRED
        live, clock = _learned(h), _clock(h)
        assert sum(c[3] for c in live.values()) == 1  # the lapsed one, counted expired
        assert sum(c[1] for c in live.values()) == 0
        assert (sum(clock[0].values()), clock[1], clock[2], clock[3]) == (1, 0, 0.0, 1)
    async with rewards_service(db_target, tmp_path) as restarted:
        assert _learned(restarted) == live
        assert _clock(restarted) == clock  # its "now" too: the refunded redemptions' moments were seen


async def test_a_fallback_coupon_redeemed_teaches_the_policy_nothing(db_target: DbTarget, tmp_path: Path) -> None:
    """Fallback waves are a fixed arm, not the policy's choice: neither their trials nor their redemptions
    count, live or when a restart rebuilds the posteriors."""
    fallback = "fallback: {arm: m100-10, delay_hours: 48, waves: 1}"
    async with rewards_service(db_target, tmp_path, fallback=fallback) as h:
        s = stub(h)
        await claim(s, 1, (await offer(s, 1)).offer_id)  # claimed, never redeemed
        before = _learned(h)
        h.clock.advance(hours=48)
        assert await h.app.passes.fallback() == 1
        (wave,) = (await s.ListPendingOffers(rewards_pb2.ListPendingOffersRequest(customer=cust(1)))).offers
        coupon = (await claim(s, 1, wave.offer_id)).coupon
        assert (await redeem(s, 1, coupon.coupon_id, "order-fb")).coupon.state == rewards_pb2.REDEEMED
        assert _learned(h) == before
    async with rewards_service(db_target, tmp_path, fallback=fallback) as restarted:
        assert _learned(restarted) == before


async def test_a_claim_teaches_at_once_and_its_expiry_when_it_comes(db_target: DbTarget, tmp_path: Path) -> None:
    """A claim is known at once (it counts at the rate claims redeem until it resolves); an unredeemed
    coupon's expiry closes it as a failure, once even when two passes run; a restart rebuilds both."""
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        made = await offer(s, 1)
        request = rewards_pb2.ClaimRequest(idempotency_key=key(), customer=cust(1), offer_id=made.offer_id)
        await s.Claim(request)
        await s.Claim(request)  # a retried claim is one claim
        cell = (made.segment, made.arm.id)
        assert _learned(h)[cell] == (1, 0, 1, 0)
        h.clock.advance(days=made.arm.validity_days + 1)
        assert await h.app.passes.expire() == 1
        assert await h.app.passes.expire() == 0
        live = _learned(h)
        assert live[cell] == (1, 0, 1, 1)
    async with rewards_service(db_target, tmp_path) as restarted:
        assert _learned(restarted) == live


def _clock(h: Harness) -> tuple[dict[int, int], int, float, int, float]:
    """Campaign 'mall''s claim clock: pending claims by hour made, redemptions, their delays, expiries, and
    its "now" (the latest time it has seen)."""
    c = h.app.runtime.campaign(h.app.config.model, "mall").posteriors.clock
    return dict(c.pending), c.redeemed, round(c.delay_hours, 6), c.expired, round(c.latest, 6)


async def test_the_claim_clock_learns_each_claims_age_live_and_a_restart_rebuilds_it(
    db_target: DbTarget, tmp_path: Path
) -> None:
    """A claim redeemed 5 hours and a fraction of a second after it was made, one that expires, then three
    claims still pending: two within one hour (one on the hour exactly, one a fraction of a second before
    the next) and one in the next hour. The running policy's claim clock and the one rebuilt at start from
    the coupons (aggregated by claim hour in SQL) agree, bucket by bucket."""
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        offers = [(n, made) for n in range(1, 12) if (made := await offer(s, n)).arm.id][:2]
        assert len(offers) == 2
        coupons = [(await claim(s, n, made.offer_id)).coupon for n, made in offers]
        h.clock.advance(hours=5, microseconds=250_000)
        await redeem(s, offers[0][0], coupons[0].coupon_id, "order-1")
        h.clock.advance(days=offers[1][1].arm.validity_days + 1, microseconds=-250_000)  # on the hour again
        assert await h.app.passes.expire() == 1
        later = [(n, made) for n in range(20, 40) if (made := await offer(s, n)).arm.id][:3]
        assert len(later) == 3
        for (n, made), step in zip(later, [0.0, 3599.5, 0.75], strict=True):
            h.clock.advance(seconds=step)
            await claim(s, n, made.offer_id)  # claimed days after the others, still pending
        live = _clock(h)
        pending, redeemed, delay, expired, _now = live
        assert sorted(pending.values()) == [1, 2]
        assert (redeemed, delay, expired) == (1, round(5 + 0.25 / 3600, 6), 1)
    async with rewards_service(db_target, tmp_path) as restarted:
        assert _clock(restarted) == live
