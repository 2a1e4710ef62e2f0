"""Shared test programme and thin call helpers for the growth tests (integration tests call over real gRPC)."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime

import yaml
from google.protobuf import timestamp_pb2
from sqlalchemy import text

from services.growth.config import GrowthConfig
from skylane.common.v1 import types_pb2
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc
from tests.helpers import Harness, key

TEST_CONFIG = """
timezone: Asia/Shanghai
max_clock_skew_seconds: 60
expiry: {mode: after_days, days: 30}
holds: {default_ttl_seconds: 600, redemption_ttl_seconds: 600}
workers: {expiry_warning_days: 5, interval_seconds: 3600}
assets: {points: {negative_balance: NEGATIVE}}
levels:
  window: rolling_12_months
  review_dates: ["01-01", "07-01"]
  grace_days: 30
  one_down: true
  tiers:
    - {id: l0, threshold: 0}
    - {id: l1, threshold: 100}
    - {id: l2, threshold: 200, points_multiplier: 1.5}
    - {id: l3, threshold: 300, points_multiplier: 2.0}
tasks:
  - {id: earn, event_type: earn, per_unit: {attribute: points, per: 1, points: 1}, apply_level_multiplier: false}
  - {id: grow, event_type: grow, growth: 100}
  - id: sign_in
    event_type: sign_in
    points: 5
    growth: 1
    caps: {per_day: 1}
    streak: {days: 3, bonus: {points: 20}}
  - id: pay
    event_type: pay
    points: 10
    conditions: [{attribute: amount_fen, op: gte, value: 1000}]
    caps: {per_week: 2, lifetime: 3}
    first_time_bonus: {points: 100}
  - {id: loan, event_type: loan_drawn, points: 50, growth: 5, pending: {days: 7, on_timeout: confirm}}
  - {id: invite, event_type: invite, points: 30, pending: {days: 3, on_timeout: release}}
  - id: referral
    event_type: referral_qualified
    points: 20
    referral: {bonus: {points: 200, growth: 10}}
rights:
  - {id: lounge, name: Lounge, points_price: 100, stock: 3, min_level: l1,
     quota: {count: 2, period: year}, supplier: lounges}
  - {id: coffee, name: Coffee, category: other, points_price: 10, stock: 1000, min_level: l0}
  - {id: scarce, name: Scarce, points_price: 1, stock: 5, min_level: l0}
"""


def config(negative: str = "clawback") -> str:
    return TEST_CONFIG.replace("NEGATIVE", negative)


_counter = itertools.count()


def new_ref() -> str:
    return f"cust_{uuid.uuid4().hex[:16]}"


def ts(value: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def cref(ref: str) -> types_pb2.CustomerRef:
    return types_pb2.CustomerRef(ref=ref)


class Client:
    """Stubs plus one-liners for the calls tests make over and over."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.growth = growth_pb2_grpc.GrowthServiceStub(h.channel)
        self.ops = growth_pb2_grpc.GrowthOpsServiceStub(h.channel)
        self.supplier = growth_pb2_grpc.RightsSupplierServiceStub(h.channel)

    async def enroll(self, ref: str | None = None, referrer: str = "") -> str:
        ref = ref or new_ref()
        request = growth_pb2.EnrollMemberRequest(idempotency_key=key(), customer=cref(ref))
        if referrer:
            request.referrer.ref = referrer
        await self.growth.EnrollMember(request)
        return ref

    def activity_request(
        self, ref: str, type: str, event_id: str | None = None, at: datetime | None = None, **attributes: object
    ) -> growth_pb2.RecordActivityRequest:
        return growth_pb2.RecordActivityRequest(
            idempotency_key=key(),
            customer=cref(ref),
            activity=growth_pb2.Activity(
                source="test",
                id=event_id or f"ev-{next(_counter)}-{uuid.uuid4().hex[:8]}",
                type=type,
                occurred_at=ts(at or self.h.clock.now()),
                attributes={k: str(v) for k, v in attributes.items()},
            ),
        )

    async def record(self, ref: str, type: str, **attributes: object) -> growth_pb2.RecordActivityResponse:
        return await self.growth.RecordActivity(self.activity_request(ref, type, **attributes))

    async def earn(self, ref: str, points: int) -> str:
        response = await self.record(ref, "earn", points=points)
        return response.awards[0].transaction_id

    async def balance(self, ref: str) -> growth_pb2.Balance:
        return await self.growth.GetBalance(growth_pb2.GetBalanceRequest(customer=cref(ref)))

    async def statement(self, ref: str, page_size: int = 100) -> growth_pb2.Statement:
        return await self.growth.GetStatement(
            growth_pb2.GetStatementRequest(customer=cref(ref), page=types_pb2.PageRequest(page_size=page_size))
        )

    async def spend(self, ref: str, points: int) -> growth_pb2.LedgerTransaction:
        return await self.growth.SpendPoints(
            growth_pb2.SpendPointsRequest(idempotency_key=key(), customer=cref(ref), points=points, reason="test")
        )

    async def hold(self, ref: str, points: int, ttl: int = 0) -> growth_pb2.Hold:
        return await self.growth.HoldPoints(
            growth_pb2.HoldPointsRequest(idempotency_key=key(), customer=cref(ref), points=points, ttl_seconds=ttl)
        )

    async def confirm(self, hold_id: str) -> growth_pb2.Hold:
        return await self.growth.ConfirmHold(growth_pb2.ConfirmHoldRequest(idempotency_key=key(), hold_id=hold_id))

    async def release(self, hold_id: str) -> growth_pb2.Hold:
        return await self.growth.ReleaseHold(growth_pb2.ReleaseHoldRequest(idempotency_key=key(), hold_id=hold_id))

    async def reverse(self, txn_id: str) -> growth_pb2.LedgerTransaction:
        return await self.ops.ReverseTransaction(
            growth_pb2.ReverseTransactionRequest(
                idempotency_key=key(), transaction_id=txn_id, reason="correction", operator="ops_alice"
            )
        )

    async def redeem(self, ref: str, right_id: str) -> growth_pb2.Redemption:
        return await self.growth.RedeemRight(
            growth_pb2.RedeemRightRequest(idempotency_key=key(), customer=cref(ref), right_id=right_id)
        )

    async def confirm_redemption(self, redemption_id: str) -> growth_pb2.Redemption:
        return await self.growth.ConfirmRedemption(
            growth_pb2.ConfirmRedemptionRequest(idempotency_key=key(), redemption_id=redemption_id)
        )

    async def cancel_redemption(self, redemption_id: str) -> growth_pb2.Redemption:
        return await self.growth.CancelRedemption(
            growth_pb2.CancelRedemptionRequest(
                idempotency_key=key(), redemption_id=redemption_id, reason="changed plans"
            )
        )

    async def events(self, ref: str) -> list[growth_pb2.GrowthEvent]:
        response = await self.ops.ListEvents(growth_pb2.ListEventsRequest(customer=cref(ref), limit=1000))
        return list(response.events)

    async def level(self, ref: str) -> growth_pb2.LevelProgress:
        return (await self.statement(ref, page_size=1)).level


async def ledger_sums(h: Harness) -> dict[str, int]:
    """Sum of every entry per asset, straight from the database (must be zero)."""
    async with h.app.db.read() as s:
        rows = (await s.execute(text("SELECT asset, SUM(amount) FROM entries GROUP BY asset"))).all()
    return {asset: int(total) for asset, total in rows}


async def member_consistency(h: Harness, ref: str) -> tuple[int, int, int, int]:
    """(balance.available, sum of lots, sum of member:available entries, balance.held - sum of held entries)."""
    async with h.app.db.read() as s:
        available, held = (
            await s.execute(
                text("SELECT available, held FROM balances WHERE member = :m AND asset = 'points'"), {"m": ref}
            )
        ).one()
        lots = (
            await s.execute(text("SELECT COALESCE(SUM(remaining), 0) FROM lots WHERE member = :m"), {"m": ref})
        ).scalar_one()
        entries = (
            await s.execute(
                text(
                    "SELECT COALESCE(SUM(amount), 0) FROM entries WHERE member = :m AND asset = 'points' "
                    "AND account = 'available'"
                ),
                {"m": ref},
            )
        ).scalar_one()
        held_entries = (
            await s.execute(
                text(
                    "SELECT COALESCE(SUM(amount), 0) FROM entries WHERE member = :m AND asset = 'points' "
                    "AND account = 'held'"
                ),
                {"m": ref},
            )
        ).scalar_one()
    return int(available), int(lots), int(entries), int(held) - int(held_entries)


async def assert_consistent(growth: Client, ref: str) -> None:
    """The ledger balances to zero and the member's balance agrees with its lots and its entries."""
    assert set((await ledger_sums(growth.h)).values()) <= {0}
    available, lots, entries, held_gap = await member_consistency(growth.h, ref)
    assert available == lots == entries
    assert held_gap == 0


def programme(negative: str = "clawback") -> GrowthConfig:
    """The test programme as the service loads it, for unit tests of the pure rules."""
    return GrowthConfig.model_validate(yaml.safe_load(config(negative)))
