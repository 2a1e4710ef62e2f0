"""A retried Offer (same idempotency key) gets the same answer and counts one touch."""

from __future__ import annotations

from pathlib import Path

from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, key
from tests.rewards.helpers import cust, offer, report, rewards_service, stub


async def test_offer_retried_with_the_same_key_answers_the_same_and_counts_one_touch(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        request = rewards_pb2.OfferRequest(
            idempotency_key=key(),
            customer=cust(1),
            scene="mall",
            profile=rewards_pb2.CustomerProfile(age=30, channel="app", monthly_payment_count=3),
        )
        first = await s.Offer(request)
        assert first.outcome == rewards_pb2.OFFERED
        assert [await s.Offer(request) for _ in range(3)] == [first] * 3
        # One touch so far: two more fit under the daily cap of 3, the next does not.
        assert [(await offer(s, 1, "restaurant")).outcome for _ in range(3)] == [
            rewards_pb2.OFFERED,
            rewards_pb2.OFFERED,
            rewards_pb2.NOT_OFFERED,
        ]
        assert sum(r.offers for r in (await report(s)).funnel) == 1  # one mall decision recorded
