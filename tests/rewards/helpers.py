"""Shared helpers of the rewards tests: a compact config and thin RPC wrappers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from services.common.clock import ManualClock
from services.rewards.app import build
from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from tests.helpers import DbTarget, Harness, key, running_service

# Monday 2026-01-05 09:00 in Shanghai (01:00 UTC): a fresh local day and ISO week.
MONDAY_9AM_LOCAL = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def config_text(
    *,
    total: int = 1_000_000,
    daily: int = 1_000_000,
    holdout: float = 0.0,
    claims: int = 1,
    quiet: str = "",
    fallback: str = "",
    validity: int = 7,
    pacing_interval: int = 60,
) -> str:
    # A strong prior that coupons work, so cold-start offers are deterministic enough to test caps and budgets.
    return f"""
timezone: Asia/Shanghai
scenes: [mall, supermarket, restaurant, travel]
contact:
  per_day: 3
  per_week: 5
  {quiet}
policy:
  exploration: 0.0
  prior_alpha: 50
  prior_beta: 50
  baseline_prior_alpha: 1
  baseline_prior_beta: 99
  propensity_draws: 4
  pacing_interval_seconds: {pacing_interval}
segments:
  - id: dormant
    when: {{monthly_payment_count: {{max: 0}}}}
campaigns:
  - id: mall
    scenes: [mall]
    start: 2026-01-01T00:00:00+08:00
    end: 2026-03-01T00:00:00+08:00
    budget: {{total_fen: {total}, daily_fen: {daily}}}
    eligibility: {{age: {{min: 18}}}}
    arms:
      - {{id: m100-10, threshold_fen: 10000, discount_fen: 1000, validity_days: {validity}}}
    holdout_share: {holdout}
    claims_per_customer: {claims}
    conversion_value_fen: 10000
    {fallback}
  - id: food
    scenes: [restaurant]
    start: 2026-01-01T00:00:00+08:00
    end: 2026-03-01T00:00:00+08:00
    budget: {{total_fen: {total}, daily_fen: {daily}}}
    arms:
      - {{id: m50-5, threshold_fen: 5000, discount_fen: 500, validity_days: 5}}
    holdout_share: {holdout}
    claims_per_customer: 5
    conversion_value_fen: 10000
"""


@asynccontextmanager
async def rewards_service(target: DbTarget, tmp_path: Path, **config: object) -> AsyncIterator[Harness]:
    path = tmp_path / "rewards.yaml"
    path.write_text(config_text(**config), encoding="utf-8")  # type: ignore[arg-type]
    async with running_service(build, target, path, clock=ManualClock(MONDAY_9AM_LOCAL)) as h:
        yield h


def stub(h: Harness) -> rewards_pb2_grpc.RewardsServiceStub:
    return rewards_pb2_grpc.RewardsServiceStub(h.channel)


def cust(n: int | str) -> types_pb2.CustomerRef:
    return types_pb2.CustomerRef(ref=f"cust-hash-{n}")


async def offer(
    s: rewards_pb2_grpc.RewardsServiceStub, customer: int | str, scene: str = "mall"
) -> rewards_pb2.OfferResponse:
    return await s.Offer(
        rewards_pb2.OfferRequest(
            idempotency_key=key(),
            customer=cust(customer),
            scene=scene,
            profile=rewards_pb2.CustomerProfile(age=30, asset_tier="mass", channel="app", monthly_payment_count=3),
        )
    )


async def claim(
    s: rewards_pb2_grpc.RewardsServiceStub, customer: int | str, offer_id: str
) -> rewards_pb2.ClaimResponse:
    return await s.Claim(rewards_pb2.ClaimRequest(idempotency_key=key(), customer=cust(customer), offer_id=offer_id))


async def redeem(
    s: rewards_pb2_grpc.RewardsServiceStub,
    customer: int | str,
    coupon_id: str,
    order_id: str,
    amount: int = 12000,
    scene: str = "mall",
) -> rewards_pb2.RedeemResponse:
    return await s.Redeem(
        rewards_pb2.RedeemRequest(
            idempotency_key=key(),
            customer=cust(customer),
            coupon_id=coupon_id,
            order_id=order_id,
            order_amount=types_pb2.Money(fen=amount),
            scene=scene,
        )
    )


async def report(s: rewards_pb2_grpc.RewardsServiceStub, campaign: str = "mall") -> rewards_pb2.CampaignReport:
    return await s.GetCampaignReport(rewards_pb2.GetCampaignReportRequest(campaign_id=campaign))
