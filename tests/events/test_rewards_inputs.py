"""What rewards keeps from its peers is an input of its rules: a segment by growth level, and eligibility
that keeps customers the router declined out of marketing (Bairong: remove high-risk customers first)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from services.common.clock import ManualClock
from services.rewards.app import build
from services.rewards.store import inputs
from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from tests.helpers import DbTarget, key, running_service
from tests.rewards.helpers import MONDAY_9AM_LOCAL

CONFIG = """
timezone: Asia/Shanghai
scenes: [mall]
policy: {exploration: 0.0, prior_alpha: 50, prior_beta: 50, baseline_prior_alpha: 1, baseline_prior_beta: 99}
segments:
  - id: top_members
    when: {growth_levels: [gold, platinum]}
campaigns:
  - id: mall
    scenes: [mall]
    start: 2026-01-01T00:00:00+08:00
    end: 2026-03-01T00:00:00+08:00
    budget: {total_fen: 1000000, daily_fen: 1000000}
    eligibility: {age: {min: 18}, excluded_risk: [DECLINED]}
    arms:
      - {id: m100-10, threshold_fen: 10000, discount_fen: 1000, validity_days: 7}
    holdout_share: 0.0
    claims_per_customer: 5
    conversion_value_fen: 10000
"""


async def offer(stub: rewards_pb2_grpc.RewardsServiceStub, customer: str) -> rewards_pb2.OfferResponse:
    return await stub.Offer(
        rewards_pb2.OfferRequest(
            idempotency_key=key(),
            customer=types_pb2.CustomerRef(ref=customer),
            scene="mall",
            profile=rewards_pb2.CustomerProfile(age=30, asset_tier="mass", channel="app", monthly_payment_count=3),
        )
    )


async def test_kept_levels_and_verdicts_drive_segments_and_eligibility(db_target: DbTarget, tmp_path: Path) -> None:
    path = tmp_path / "rewards.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    async with running_service(build, db_target, path, clock=ManualClock(MONDAY_9AM_LOCAL)) as h:
        at = h.clock.now() - timedelta(hours=1)
        async with h.app.db.transaction() as session:
            dialect = h.app.db.dialect
            await inputs.keep_level(session, dialect, "cust-gold-0001", "gold", 7, at)
            await inputs.keep_verdict(
                session,
                dialect,
                "cust-declined-01",
                tier="declined",
                destination="DECLINED",
                reasons="AGE",
                position=3,
                at=at,
            )
            await inputs.keep_verdict(
                session, dialect, "cust-gold-0001", tier="prime", destination="IN_HOUSE", reasons="", position=4, at=at
            )
            # An older verdict arriving late changes nothing.
            assert not await inputs.keep_verdict(
                session,
                dialect,
                "cust-gold-0001",
                tier="declined",
                destination="DECLINED",
                reasons="",
                position=2,
                at=at,
            )
        stub = rewards_pb2_grpc.RewardsServiceStub(h.channel)
        declined = await offer(stub, "cust-declined-01")
        assert (declined.outcome, declined.reason) == (rewards_pb2.NOT_OFFERED, "NOT_ELIGIBLE")
        assert list(declined.unmet_conditions) == ["risk"]
        gold = await offer(stub, "cust-gold-0001")
        assert gold.segment == "top_members" and gold.reason != "NOT_ELIGIBLE"
        unknown = await offer(stub, "cust-unknown-01")  # nothing kept: eligible, default segment
        assert unknown.segment == "other" and unknown.reason != "NOT_ELIGIBLE"
