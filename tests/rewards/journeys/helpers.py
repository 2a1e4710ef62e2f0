"""Shared helpers of the journey tests: a rewards server that follows its own stream (outside events and
its own events feed the triggers), outside events ingested over gRPC, and the journeys read back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import select

from services.common.clock import ManualClock
from services.rewards.app import build
from services.rewards.models import Decision, JourneyStep
from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from tests.events.helpers import eventually, peers_block
from tests.helpers import DbTarget, Harness, key, running_service
from tests.rewards.helpers import MONDAY_9AM_LOCAL

CAMPAIGNS = """
timezone: Asia/Shanghai
scenes: [mall]
contact: {per_day: 3, per_week: 5}
policy: {exploration: 0.0, prior_alpha: 50, prior_beta: 50, baseline_prior_alpha: 1, baseline_prior_beta: 99}
journey_pass_seconds: 0  # the tests run the journeys pass themselves
campaigns:
  - id: payroll
    scenes: [mall]
    start: 2026-01-01T00:00:00+08:00
    end: 2026-03-01T00:00:00+08:00
    budget: {total_fen: 1000000, daily_fen: 1000000}
    arms: [{id: m100-10, threshold_fen: 10000, discount_fen: 1000, validity_days: 7}]
    holdout_share: HOLDOUT
    claims_per_customer: 5
    conversion_value_fen: 10000
    priority: 5
  - id: wealth
    scenes: [mall]
    start: 2026-01-01T00:00:00+08:00
    end: 2026-03-01T00:00:00+08:00
    budget: {total_fen: 1000000, daily_fen: 1000000}
    arms: [{id: w200-20, threshold_fen: 20000, discount_fen: 2000, validity_days: 7}]
    holdout_share: 0.0
    conversion_value_fen: 10000
"""

TRIGGERS = """
triggers:
  - id: payroll-signin
    campaign: payroll
    event: outside.payroll_credited
    window: {start: "09:00", end: "20:00"}
    validity_hours: 26
    reentry_days: 7
    exit_on: [rewards.coupon_redeemed, outside.wealth_purchased]
    risk: {exclude: [DECLINED], within_days: 30, flags: [risk_flagged]}
  - id: next-product
    campaign: wealth
    wave: 2
    event: rewards.coupon_redeemed
    data: {campaign_id: payroll}
    next_product: wealth-first-purchase
"""


# Steps recorded at the same instant (the clock is a test's) come in the order they can happen.
ORDER = [
    "ENTERED",
    "SCREENED",
    "HELD_OUT",
    "DEFERRED",
    "TOUCHED",
    "WOULD_HAVE_TOUCHED",
    "FOLLOW_UP",
    "ROUTED",
    "EXITED",
    "REENTRY_BLOCKED",
]


def config(holdout: float = 0.0) -> str:
    return CAMPAIGNS.replace("HOLDOUT", str(holdout)) + TRIGGERS


@asynccontextmanager
async def journeys_service(target: DbTarget, tmp_path: Path, text: str) -> AsyncIterator[Harness]:
    """Rewards on port 0; once it listens, its config names its own address as the `rewards` peer, so its
    consumer follows its own stream."""
    path = tmp_path / "rewards.yaml"
    path.write_text(text, encoding="utf-8")
    async with running_service(build, target, path, clock=ManualClock(MONDAY_9AM_LOCAL)) as h:
        h.write_config(text + peers_block(rewards=h.service.address))
        ok, _, message = h.app.config.reload()
        assert ok, message
        yield h


async def ingest(h: Harness, event_key: str, customer: str, kind: str, **attributes: str) -> None:
    stub = events_pb2_grpc.EventIngestServiceStub(h.channel)
    event = events_pb2.OutsideEvent(
        idempotency_key=types_pb2.IdempotencyKey(value=event_key),
        source="bank",
        type=kind,
        customer=types_pb2.CustomerRef(ref=customer),
        attributes=attributes,
    )
    answer = await stub.IngestEvents(events_pb2.IngestEventsRequest(idempotency_key=key(), events=[event]))
    assert answer.results[0].status == events_pb2.INGEST_STATUS_ACCEPTED


async def steps(h: Harness, trigger: str, customer: str) -> list[tuple[int, str, str]]:
    """(entry, step, detail) of the customer's journey, in the order they happened."""
    async with h.app.db.report() as session:
        rows = await session.execute(
            select(JourneyStep.entry, JourneyStep.step, JourneyStep.detail, JourneyStep.at).where(
                JourneyStep.trigger_id == trigger, JourneyStep.customer_ref == customer
            )
        )
        found = sorted(rows.all(), key=lambda r: (r[0], r[3], ORDER.index(r[1])))
        return [(int(e), str(s), str(d)) for e, s, d, _ in found]


async def reached(h: Harness, trigger: str, customer: str, step: str, entry: int = 0) -> list[tuple[int, str, str]]:
    """Waits until the consumer has applied the event that records `step` (of entry `entry`, or any);
    returns the journey's steps."""

    async def check() -> bool:
        return any(s == step and entry in (0, e) for e, s, _ in await steps(h, trigger, customer))

    await eventually(check, what=f"{trigger}/{customer} reaching {step}")
    return await steps(h, trigger, customer)


async def decisions_of(h: Harness, customer: str) -> list[Any]:
    async with h.app.db.report() as session:
        rows = await session.execute(
            select(Decision.campaign_id, Decision.reason, Decision.wave, Decision.id)
            .where(Decision.customer_ref == customer)
            .order_by(Decision.decided_at)
        )
        return list(rows.all())
