"""The consumers inside growth and rewards, against real peer servers, through a proxy that replays the
whole stream on every connection and sends every page twice: each consumer is killed mid-stream and
restarted twice, more events arrive while it runs, and every effect (points, growth, levels, verdicts)
happens exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from services.common.clock import ManualClock
from services.common.consumer import Consumer as ConsumerWorker
from services.growth.app import build as build_growth
from services.rewards.app import build as build_rewards
from services.rewards.store.inputs import inputs_of
from services.router.app import build as build_router
from skylane.common.v1 import events_pb2, types_pb2
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from skylane.router.v1 import router_pb2, router_pb2_grpc
from tests.events.helpers import DuplicatingPeer, drain, eventually, peers_block
from tests.helpers import Harness, db_target_for, key, running_service
from tests.rewards.helpers import MONDAY_9AM_LOCAL
from tests.rewards.helpers import config_text as rewards_config
from tests.router.helpers import START
from tests.router.helpers import config_text as router_config
from tests.router.helpers import request as route_request

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


async def consumed(h: Harness) -> dict[str, str]:
    """event id → outcome of every event the service's consumers applied."""
    async with h.app.db.read() as session:
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


async def payments(peer: Harness, round_: int) -> None:
    stub = rewards_pb2_grpc.RewardsServiceStub(peer.channel)
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


async def enroll_everyone(h: Harness) -> None:
    stub = growth_pb2_grpc.GrowthServiceStub(h.channel)
    refs = [f"cust-hash-{n}" for n in range(4)] + [f"applicant-{n:0>6}" for n in range(16)]
    for ref in refs:
        await stub.EnrollMember(growth_pb2.EnrollMemberRequest(idempotency_key=key(), customer=cref(ref)))


async def nothing(h: Harness) -> None:
    return None


async def points_once_per_payment(h: Harness) -> None:
    stub = growth_pb2_grpc.GrowthServiceStub(h.channel)
    expected = dict.fromkeys(range(4), 0)
    for count in (24, 8):
        for n in range(count):
            expected[n % 4] += (1000 + 100 * n) // 100
    for customer, points in expected.items():
        balance = await stub.GetBalance(growth_pb2.GetBalanceRequest(customer=cref(f"cust-hash-{customer}")))
        assert balance.points_available == points, customer


async def points_once_per_loan(h: Harness) -> None:
    stub = growth_pb2_grpc.GrowthServiceStub(h.channel)
    for n in range(16):
        balance = await stub.GetBalance(growth_pb2.GetBalanceRequest(customer=cref(f"applicant-{n:0>6}")))
        assert (balance.points_available, balance.growth_total) == (50, 5), n


async def latest_verdicts(h: Harness) -> None:
    async with h.app.db.read() as session:
        for n in range(14):
            kept = await inputs_of(session, f"applicant-{n:0>6}")
            assert (kept.risk_destination, kept.risk_tier) == ("DECLINED", "declined"), n


async def top_levels(h: Harness) -> None:
    async with h.app.db.read() as session:
        for n in range(8):
            assert (await inputs_of(session, f"member-{n:04}")).growth_level == "l3", n


@dataclass
class Consumer:
    build: Callable[..., Any]
    config: str
    clock: Callable[[], ManualClock]
    prepare: Callable[[Harness], Awaitable[None]]
    verify: Callable[[Harness], Awaitable[None]]


GROWTH = (build_growth, GROWTH_CONFIG, ManualClock, enroll_everyone)
REWARDS = (build_rewards, rewards_config(), lambda: ManualClock(MONDAY_9AM_LOCAL), nothing)
CASES = {
    "growth<-rewards": ("rewards", Consumer(*GROWTH, points_once_per_payment), ("payment_recorded",)),
    "growth<-router": ("router-loans", Consumer(*GROWTH, points_once_per_loan), ("loan_drawn",)),
    "rewards<-router": ("router-verdicts", Consumer(*REWARDS, latest_verdicts), ("decision_made",)),
    "rewards<-growth": ("growth", Consumer(*REWARDS, top_levels), ("level_changed",)),
}


@asynccontextmanager
async def serving(build: Callable[..., Any], target: Any, path: Path, clock: ManualClock) -> AsyncIterator[Harness]:
    async with running_service(build, target, path, clock=clock) as h:
        yield h


@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_consumer_killed_mid_stream_and_fed_every_event_twice_has_each_effect_once(
    engine: str, tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    peer_key, consumer, types = CASES[case]
    applied = count_applied_pages(monkeypatch)
    peer = PEERS[peer_key]
    peer_dir, consumer_dir = tmp_path / "peer", tmp_path / "consumer"
    peer_dir.mkdir()
    consumer_dir.mkdir()
    (peer_dir / "config.yaml").write_text(peer.config, encoding="utf-8")
    async with (
        db_target_for(engine, peer_dir, "peer") as peer_db,
        db_target_for(engine, consumer_dir, "consumer") as consumer_db,
        serving(peer.build, peer_db, peer_dir / "config.yaml", peer.clock()) as upstream,
    ):
        await peer.produce(upstream, 0)
        proxy = DuplicatingPeer(upstream.service.address, delay=0.02)
        config = consumer_dir / "config.yaml"
        config.write_text(consumer.config + peers_block(**{peer.name: proxy.address or await proxy.start()}))
        config.write_text(config.read_text().replace("{address:", "{page_size: 2, address:"))
        clock = consumer.clock()
        try:
            # Killed twice mid-stream (the service stopped while pages are being applied), then run to the end.
            for run, stop_at in enumerate((4, 8, None)):
                async with serving(consumer.build, consumer_db, config, clock) as h:
                    if run == 0:
                        await consumer.prepare(h)
                        proxy.opened.set()
                    if stop_at is not None:
                        await eventually(lambda h=h, n=stop_at: _at_least(h, n), what=f"{stop_at} events consumed")
                        continue
                    await peer.produce(upstream, 1)
                    wanted, _ = await drain(upstream.channel, types=types)
                    await eventually(lambda h=h, n=len(wanted): _at_least(h, n), what="every event consumed")
                    ids = [e.event_id for e in wanted]

                    async def twice(ids: list[str] = ids) -> bool:
                        return min(applied[i] for i in ids) >= 2

                    await eventually(twice, what="every event through the consumer twice")
                    outcomes = await consumed(h)
                    assert set(outcomes) == {e.event_id for e in wanted}
                    assert set(outcomes.values()) == {"applied"}
                    await consumer.verify(h)
            assert proxy.connections >= 3
            assert min(proxy.delivered[e.event_id] for e in wanted) >= 2  # every event reached it twice or more
        finally:
            await proxy.stop()


def count_applied_pages(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts, per event id, the pages a consumer finished applying that held it (duplicates included)."""
    seen: Counter[str] = Counter()
    original = ConsumerWorker.apply

    async def apply(self: ConsumerWorker, page: events_pb2.StreamEventsResponse) -> int:
        done = await original(self, page)
        seen.update(e.event_id for e in page.events)
        return done

    monkeypatch.setattr(ConsumerWorker, "apply", apply)
    return seen


async def _at_least(h: Harness, n: int) -> bool:
    return len(await consumed(h)) >= n
