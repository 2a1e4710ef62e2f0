"""Visits the policy passes over teach the no-coupon response on real servers: counted while the campaign
never offered the customer a coupon, converted by their payment, censored at their first offer, and
rebuilt the same at a restart."""

from __future__ import annotations

from pathlib import Path

from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, Harness, key
from tests.rewards.helpers import claim, cust, offer, rewards_service, stub


def _passed(h: Harness) -> dict[str, tuple[int, int, dict[int, int]]]:
    """segment → (passed-over visits, of them paid, censored visits by whole hours of age) for 'mall'."""
    posteriors = h.app.runtime.campaign(h.app.config.model, "mall").posteriors
    return {s: (u.trials, u.successes, dict(u.censored)) for s, u in posteriors.untreated.items()}


async def _pay(s: object, n: int) -> None:
    await s.RecordPayment(  # type: ignore[attr-defined]
        rewards_pb2.RecordPaymentRequest(
            idempotency_key=key(), customer=cust(n), scene="mall", order_id=f"pay-{n}", amount=types_pb2.Money(fen=9000)
        )
    )


async def test_passed_over_visits_count_until_the_first_offer(db_target: DbTarget, tmp_path: Path) -> None:
    # A budget of one coupon: once customer 1 claims it, every other visit finds the budget exhausted. λ keeps
    # its starting value (a pacer re-solving it on a few visits would keep the coupon for later arrivals).
    once = 30 * 86_400
    async with rewards_service(
        db_target, tmp_path, total=1000, daily=1000, validity=1, claims=2, pacing_interval=once
    ) as h:
        s = stub(h)
        first = await offer(s, 1)
        assert first.outcome == rewards_pb2.OFFERED
        await claim(s, 1, first.offer_id)
        segment = first.segment
        for n in (2, 3, 1):  # customer 1 was offered a coupon: their visit is no trial of the baseline
            made = await offer(s, n)
            assert (made.outcome, made.reason) == (rewards_pb2.NOT_OFFERED, "BUDGET_EXHAUSTED")
        assert _passed(h) == {segment: (2, 0, {})}
        await _pay(s, 2)
        await _pay(s, 1)  # holds the campaign's coupon: not a no-coupon payment
        assert _passed(h) == {segment: (2, 1, {})}
        # The coupon expires unredeemed and gives its budget back; customer 3's first offer, two days
        # after the visit passed over, censors it: a payment from then on may be the coupon's doing.
        h.clock.advance(days=2)
        assert await h.app.passes.expire() == 1
        assert (await offer(s, 3)).outcome == rewards_pb2.OFFERED
        assert _passed(h) == {segment: (2, 1, {48: 1})}
        await _pay(s, 3)
        live = _passed(h)
        assert live == {segment: (2, 1, {48: 1})}
    async with rewards_service(
        db_target, tmp_path, total=1000, daily=1000, validity=1, claims=2, pacing_interval=once
    ) as restarted:
        assert _passed(restarted) == live
