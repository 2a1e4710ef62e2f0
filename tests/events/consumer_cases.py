"""The consumers inside growth and rewards and what they take from each peer, shared by the test that stops a
consumer in-process (tests/events/test_consumers.py) and the one that kills its process with SIGKILL
(tests/events/test_consumer_kill.py): what each peer produces, in two rounds, and the effects the consumer
must show in the end, each exactly once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import grpc
from sqlalchemy import text

from services.common.clock import ManualClock
from services.common.db import Database
from services.growth.app import build as build_growth
from services.rewards.app import build as build_rewards
from services.rewards.store.inputs import inputs_of
from services.router.app import build as build_router
from skylane.common.v1 import types_pb2
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from skylane.router.v1 import router_pb2, router_pb2_grpc
from tests.helpers import Harness, key
from tests.rewards.helpers import MONDAY_9AM_LOCAL
from tests.rewards.helpers import config_text as rewards_config
from tests.router.helpers import START
from tests.router.helpers import config_text as router_config
from tests.router.helpers import request as route_request


@dataclass
class Side:
    """The consuming service as the checks reach it: its gRPC channel and its database."""

    channel: grpc.aio.Channel
    db: Database


GROWTH_CONFIG = """
timezone: Asia/Shanghai
max_clock_skew_seconds: 60
expiry: {mode: after_days, days: 30}
levels:
  window: rolling_12_months
  tiers:
    - {id: l0, threshold: 0}
    - {id: l1, threshold: 100}
    - {id: l2, threshold: 200}
    - {id: l3, threshold: 300}
tasks:
  - {id: card_payment, event_type: card_payment, per_unit: {attribute: amount_fen, per: 100, points: 1},
     apply_level_multiplier: false}
  - {id: loan, event_type: loan_drawn, points: 50, growth: 5, apply_level_multiplier: false,
     conditions: [{attribute: product, op: eq, value: travel_loan}]}
  - {id: coupon, event_type: coupon_redeemed, points: 30, growth: 10, apply_level_multiplier: false}
  - {id: grow, event_type: grow, growth: 100}
"""


def cref(ref: str) -> types_pb2.CustomerRef:
    return types_pb2.CustomerRef(ref=ref)


async def consumed(side: Side) -> dict[str, str]:
    """event id → outcome of every event the service's consumers applied."""
    async with side.db.read() as session:
        rows = await session.execute(text("SELECT event_id, outcome FROM consumed_events"))
        return {str(event_id): str(outcome) for event_id, outcome in rows}


# --- the peers and what they produce -----------------------------------------------------------------


@dataclass
class Peer:
    name: str
    build: Callable[..., Any]
    config: str
    clock: Callable[[], ManualClock]
    produce: Callable[[Harness, int], Awaitable[None]]  # round 0 before the consumer starts, 1 while it runs
    types: tuple[str, ...]  # what the consumer takes from it


COUPON_SCENES = ("mall", "restaurant")  # round 0 and round 1: a coupon of each campaign per customer


async def payments(peer: Harness, round_: int) -> None:
    """Payments of four customers, and a coupon each offered, claimed and redeemed."""
    stub = rewards_pb2_grpc.RewardsServiceStub(peer.channel)
    for customer in range(4):
        await redeemed_coupon(stub, f"cust-hash-{customer}", COUPON_SCENES[round_], f"coupon-order-{round_}-{customer}")
    for n in range(24 if round_ == 0 else 8):
        await stub.RecordPayment(
            rewards_pb2.RecordPaymentRequest(
                idempotency_key=key(),
                customer=cref(f"cust-hash-{n % 4}"),
                scene="mall",
                merchant_id="m-1",
                order_id=f"order-{round_}-{n}",
                amount=types_pb2.Money(fen=1000 + 100 * n),
            )
        )


async def redeemed_coupon(stub: rewards_pb2_grpc.RewardsServiceStub, ref: str, scene: str, order_id: str) -> None:
    profile = rewards_pb2.CustomerProfile(age=30, asset_tier="mass", channel="app", monthly_payment_count=3)
    offered = await stub.Offer(
        rewards_pb2.OfferRequest(idempotency_key=key(), customer=cref(ref), scene=scene, profile=profile)
    )
    assert offered.outcome == rewards_pb2.OFFERED, offered.reason
    claimed = await stub.Claim(
        rewards_pb2.ClaimRequest(idempotency_key=key(), customer=cref(ref), offer_id=offered.offer_id)
    )
    await stub.Redeem(
        rewards_pb2.RedeemRequest(
            idempotency_key=key(),
            customer=cref(ref),
            coupon_id=claimed.coupon.coupon_id,
            order_id=order_id,
            order_amount=types_pb2.Money(fen=12_000),
            scene=scene,
        )
    )


async def loans(peer: Harness, round_: int) -> None:
    stub = router_pb2_grpc.RouterServiceStub(peer.channel)
    for n in range(12) if round_ == 0 else range(12, 16):
        decided = await stub.RouteApplicant(route_request(n, score=720))
        await stub.RecordLoanDrawn(
            router_pb2.RecordLoanDrawnRequest(
                idempotency_key=key(), decision_id=decided.decision_id, amount=types_pb2.Money(fen=500_000)
            )
        )


async def verdicts(peer: Harness, round_: int) -> None:
    """Each applicant: accepted in-house, then two hours later declined (its latest verdict)."""
    stub = router_pb2_grpc.RouterServiceStub(peer.channel)
    applicants = range(10) if round_ == 0 else range(10, 14)
    for n in applicants:
        await stub.RouteApplicant(route_request(n, score=720))
    peer.clock.advance(timedelta(hours=2))
    for n in applicants:
        await stub.RouteApplicant(route_request(n, score=300))


async def levels(peer: Harness, round_: int) -> None:
    stub = growth_pb2_grpc.GrowthServiceStub(peer.channel)
    members = range(6) if round_ == 0 else range(6, 8)
    for n in members:
        await stub.EnrollMember(growth_pb2.EnrollMemberRequest(idempotency_key=key(), customer=cref(f"member-{n:04}")))
    for step in range(3):
        for n in members:
            activity = growth_pb2.Activity(source="app", id=f"grow-{n}-{step}", type="grow")
            activity.occurred_at.FromDatetime(peer.clock.now())
            await stub.RecordActivity(
                growth_pb2.RecordActivityRequest(
                    idempotency_key=key(), customer=cref(f"member-{n:04}"), activity=activity
                )
            )


PEERS = {
    "rewards": Peer("rewards", build_rewards, rewards_config(), lambda: ManualClock(MONDAY_9AM_LOCAL), payments, ()),
    "router-loans": Peer("router", build_router, router_config(), lambda: ManualClock(START), loans, ()),
    "router-verdicts": Peer("router", build_router, router_config(), lambda: ManualClock(START), verdicts, ()),
    "growth": Peer("growth", build_growth, GROWTH_CONFIG, ManualClock, levels, ()),
}


# --- the consumers and what their effects must be --------------------------------------------------------


async def enroll_everyone(side: Side) -> None:
    stub = growth_pb2_grpc.GrowthServiceStub(side.channel)
    refs = [f"cust-hash-{n}" for n in range(4)] + [f"applicant-{n:0>6}" for n in range(16)]
    for ref in refs:
        await stub.EnrollMember(growth_pb2.EnrollMemberRequest(idempotency_key=key(), customer=cref(ref)))


async def nothing(side: Side) -> None:
    return None


async def points_once_per_payment_and_coupon(side: Side) -> None:
    """1 point per ¥1 paid (no growth); 30 points and 10 growth per coupon redeemed."""
    stub = growth_pb2_grpc.GrowthServiceStub(side.channel)
    coupons = len(COUPON_SCENES)
    expected = dict.fromkeys(range(4), 30 * coupons)
    for count in (24, 8):
        for n in range(count):
            expected[n % 4] += (1000 + 100 * n) // 100
    for customer, points in expected.items():
        balance = await stub.GetBalance(growth_pb2.GetBalanceRequest(customer=cref(f"cust-hash-{customer}")))
        assert (balance.points_available, balance.growth_total) == (points, 10 * coupons), customer


async def points_once_per_loan(side: Side) -> None:
    stub = growth_pb2_grpc.GrowthServiceStub(side.channel)
    for n in range(16):
        balance = await stub.GetBalance(growth_pb2.GetBalanceRequest(customer=cref(f"applicant-{n:0>6}")))
        assert (balance.points_available, balance.growth_total) == (50, 5), n


async def latest_verdicts(side: Side) -> None:
    async with side.db.read() as session:
        for n in range(14):
            kept = await inputs_of(session, f"applicant-{n:0>6}")
            assert (kept.risk_destination, kept.risk_tier) == ("DECLINED", "declined"), n


async def top_levels(side: Side) -> None:
    async with side.db.read() as session:
        for n in range(8):
            assert (await inputs_of(session, f"member-{n:04}")).growth_level == "l3", n


@dataclass
class Consumer:
    build: Callable[..., Any]
    config: str
    clock: Callable[[], ManualClock]
    prepare: Callable[[Side], Awaitable[None]]
    verify: Callable[[Side], Awaitable[None]]


GROWTH = (build_growth, GROWTH_CONFIG, ManualClock, enroll_everyone)
REWARDS = (build_rewards, rewards_config(), lambda: ManualClock(MONDAY_9AM_LOCAL), nothing)
CASES = {
    "growth<-rewards": (
        "rewards",
        Consumer(*GROWTH, points_once_per_payment_and_coupon),
        ("coupon_redeemed", "payment_recorded"),
    ),
    "growth<-router": ("router-loans", Consumer(*GROWTH, points_once_per_loan), ("loan_drawn",)),
    "rewards<-router": ("router-verdicts", Consumer(*REWARDS, latest_verdicts), ("decision_made",)),
    "rewards<-growth": ("growth", Consumer(*REWARDS, top_levels), ("level_changed",)),
}
