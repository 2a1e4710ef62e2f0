"""The suite as one customer journey, across three real servers that each own their database: an in-house
loan drawn (router), a coupon redeemed and a payment recorded (rewards) each earn what growth's config
says, once; rewards keeps the level growth reached and the router's verdict. Growth starts before its
peers: a missing peer delays, never breaks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

from services.common.clock import ManualClock
from services.common.server import ServerOptions
from services.growth.app import build as build_growth
from services.rewards.app import build as build_rewards
from services.rewards.store.inputs import inputs_of
from services.router.app import build as build_router
from skylane.common.v1 import types_pb2
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from skylane.router.v1 import router_pb2, router_pb2_grpc
from tests.events.helpers import eventually, free_port, peers_block
from tests.helpers import Harness, db_target_for, key, running_service
from tests.router.helpers import START
from tests.router.helpers import config_text as router_config
from tests.router.helpers import request as route_request

# What growth's config says each journey step earns (apply_level_multiplier off: the numbers are the award).
GROWTH_CONFIG = """
timezone: Asia/Shanghai
levels:
  window: rolling_12_months
  tiers:
    - {id: blue, threshold: 0}
    - {id: silver, threshold: 100}
tasks:
  - {id: travel_loan_drawn, event_type: loan_drawn, points: 500, growth: 100, apply_level_multiplier: false,
     conditions: [{attribute: product, op: eq, value: travel_loan}]}
  - {id: coupon_redeemed, event_type: coupon_redeemed, points: 30, growth: 10, apply_level_multiplier: false}
  - {id: card_payment, event_type: card_payment, per_unit: {attribute: amount_fen, per: 1000, points: 1},
     growth: 5, apply_level_multiplier: false}
"""
LOAN, COUPON = (500, 100), (30, 10)
PAYMENT_FEN = 52_300
PAYMENT = (PAYMENT_FEN // 1000, 5)

REWARDS_CONFIG = """
timezone: Asia/Shanghai
scenes: [mall]
contact: {per_day: 3, per_week: 5}
policy: {exploration: 0.0, prior_alpha: 90, prior_beta: 10, baseline_prior_alpha: 1, baseline_prior_beta: 99,
         lambda_initial: 0.05, lambda_min: 0.05, lambda_max: 0.1}
campaigns:
  - id: mall
    scenes: [mall]
    start: 2026-01-01T00:00:00+08:00
    end: 2026-03-01T00:00:00+08:00
    budget: {total_fen: 1000000, daily_fen: 1000000}
    arms:
      - {id: m100-10, threshold_fen: 10000, discount_fen: 1000, validity_days: 7}
    holdout_share: 0.0
    claims_per_customer: 5
    conversion_value_fen: 1000000
"""


def cref(ref: str) -> types_pb2.CustomerRef:
    return types_pb2.CustomerRef(ref=ref)


@asynccontextmanager
async def three_servers(engine: str, tmp_path: Path) -> AsyncIterator[dict[str, Harness]]:
    ports = {name: free_port() for name in ("router", "growth", "rewards")}
    address = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    configs = {
        "router": router_config(),
        "growth": GROWTH_CONFIG + peers_block(rewards=address["rewards"], router=address["router"]),
        "rewards": REWARDS_CONFIG + peers_block(growth=address["growth"], router=address["router"]),
    }
    builds: dict[str, Any] = {"router": build_router, "growth": build_growth, "rewards": build_rewards}
    servers: dict[str, Harness] = {}
    async with AsyncExitStack() as stack:
        for name in ("growth", "router", "rewards"):  # growth first: its peers are missing for a while
            (tmp_path / f"{name}.yaml").write_text(configs[name], encoding="utf-8")
            target = await stack.enter_async_context(db_target_for(engine, tmp_path, name))
            options = ServerOptions(port=ports[name], metrics_port=None, config_poll_seconds=None, access_log=False)
            servers[name] = await stack.enter_async_context(
                running_service(
                    builds[name], target, tmp_path / f"{name}.yaml", clock=ManualClock(START), options=options
                )
            )
            if name == "growth":
                await growth_pb2_grpc.GrowthServiceStub(servers[name].channel).EnrollMember(
                    growth_pb2.EnrollMemberRequest(idempotency_key=key(), customer=cref("journey-customer-1"))
                )
                await asyncio.sleep(1.0)  # its consumers find no peer, back off, and it keeps serving
        yield servers


async def test_a_loan_a_coupon_and_a_payment_each_earn_once_across_three_servers(engine: str, tmp_path: Path) -> None:
    customer = "journey-customer-1"
    async with three_servers(engine, tmp_path) as servers:
        router = router_pb2_grpc.RouterServiceStub(servers["router"].channel)
        rewards = rewards_pb2_grpc.RewardsServiceStub(servers["rewards"].channel)
        growth = growth_pb2_grpc.GrowthServiceStub(servers["growth"].channel)

        # The router: an in-house decision, and the bank's loan system reports the drawdown.
        decided = await router.RouteApplicant(route_request(customer, score=720))
        assert decided.destination == router_pb2.DESTINATION_IN_HOUSE
        await router.RecordLoanDrawn(
            router_pb2.RecordLoanDrawnRequest(
                idempotency_key=key(), decision_id=decided.decision_id, amount=types_pb2.Money(fen=1_000_000)
            )
        )
        # Rewards: a coupon offered, claimed and redeemed, and a payment without a coupon.
        offered = await rewards.Offer(
            rewards_pb2.OfferRequest(
                idempotency_key=key(),
                customer=cref(customer),
                scene="mall",
                profile=rewards_pb2.CustomerProfile(age=30, asset_tier="mass", channel="app", monthly_payment_count=3),
            )
        )
        assert offered.outcome == rewards_pb2.OFFERED, offered.reason
        coupon = (
            await rewards.Claim(
                rewards_pb2.ClaimRequest(idempotency_key=key(), customer=cref(customer), offer_id=offered.offer_id)
            )
        ).coupon
        await rewards.Redeem(
            rewards_pb2.RedeemRequest(
                idempotency_key=key(),
                customer=cref(customer),
                coupon_id=coupon.coupon_id,
                order_id="order-coupon-1",
                order_amount=types_pb2.Money(fen=12_000),
                scene="mall",
            )
        )
        await rewards.RecordPayment(
            rewards_pb2.RecordPaymentRequest(
                idempotency_key=key(),
                customer=cref(customer),
                scene="mall",
                merchant_id="m-1",
                order_id="order-cash-1",
                amount=types_pb2.Money(fen=PAYMENT_FEN),
            )
        )

        points = LOAN[0] + COUPON[0] + PAYMENT[0]
        growth_value = LOAN[1] + COUPON[1] + PAYMENT[1]

        async def balance() -> growth_pb2.Balance:
            return await growth.GetBalance(growth_pb2.GetBalanceRequest(customer=cref(customer)))

        async def earned() -> bool:
            return (await balance()).points_available >= points

        await eventually(earned, seconds=40, what="growth to earn from the router's and rewards' events")
        statement = await growth.GetStatement(
            growth_pb2.GetStatementRequest(customer=cref(customer), page=types_pb2.PageRequest(page_size=50))
        )
        by_task = sorted((t.task_id, t.points, t.growth) for t in statement.history)
        assert by_task == [
            ("card_payment", *PAYMENT),
            ("coupon_redeemed", *COUPON),
            ("travel_loan_drawn", *LOAN),
        ]
        final = await balance()
        assert (final.points_available, final.growth_total, final.level) == (points, growth_value, "silver")

        # Rewards keeps what the peers said: the level growth reached and the router's verdict.
        async def kept() -> bool:
            async with servers["rewards"].app.db.read() as session:
                row = await inputs_of(session, customer)
            return row is not None and row.growth_level == "silver" and row.risk_destination == "IN_HOUSE"

        await eventually(kept, seconds=40, what="rewards to keep the customer's level and verdict")

        # Once: a while later nothing more was earned.
        await asyncio.sleep(1.0)
        assert (await balance()).points_available == points
