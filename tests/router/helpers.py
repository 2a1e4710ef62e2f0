"""Shared pieces of the router tests: a small config whose scores are easy to compute by hand."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from services.common.clock import ManualClock
from services.router.app import build
from skylane.common.v1 import admin_pb2, admin_pb2_grpc, types_pb2
from skylane.router.v1 import router_pb2, router_pb2_grpc
from tests.helpers import DbTarget, Harness, key, running_service

# 2026-01-05 09:00 UTC = 17:00 in Shanghai.
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

# Score = external_credit_score + 50 if income_band is high (+0 otherwise), so tiers are easy to hit:
# prime >= 700 (in-house), near_prime >= 600 (pool), tail >= 500 (pool), below 500 declined.
POLICY = """
  scorecard:
    base_points: 0
    attributes:
      - attribute: income_band
        bins:
          - {{op: eq, value: high, points: 50}}
    external_score: {{attribute: external_credit_score, weight: 1.0, center: 0, missing_points: 0}}
  tiers:
    - {{name: prime, min_score: {prime}, route: in_house}}
    - {{name: near_prime, min_score: {near_prime}, route: partner_pool}}
    - {{name: tail, min_score: 500, route: partner_pool}}
  knockouts:
    age: {{min: 18, max: 60}}
    blocked_regions: [CN-65]
    deny_list: [deny-ref-0001]
    applicant_velocity: {{max_applications: 2, window_hours: 48}}
    device_velocity: {{max_applications: 3, window_hours: 24}}
    rules:
      - code: NO_INCOME
        message: no declared income
        all:
          - {{attribute: income_band, op: eq, value: none}}
  in_house:
    product_id: travel_loan
    min_amount_fen: 100000
    max_amount_fen: 5000000
    terms_months: [6, 12]
    annual_cost_bp: {{prime: {prime_cost}}}
    annual_cost_ceiling_bp: 2400
    daily_cap: {cap}
"""


def policy_block(
    *, prime: int = 700, near_prime: int = 600, cap: int = 100, prime_cost: int = 1080, indent: int = 0
) -> str:
    text = POLICY.format(prime=prime, near_prime=near_prime, cap=cap, prime_cost=prime_cost)
    pad = " " * indent
    return "\n".join(pad + line if line.strip() else line for line in text.splitlines())


# The tags the test requests send, typed; `note` is free text (accepted, then dropped everywhere).
TAGS = """
tags:
  age: {type: number, integer: true, min: 0, max: 120}
  region: {type: categorical, values: [CN-11, CN-31, CN-44, CN-65]}
  income_band: {type: categorical, values: [none, low, middle, upper_middle, high]}
  external_credit_score: {type: number, integer: true, min: 0, max: 1000}
  existing_customer: {type: boolean}
  note: {type: free_text, max_length: 200}
"""


def config_text(
    *,
    prime: int = 700,
    near_prime: int = 600,
    cap: int = 100,
    prime_cost: int = 1080,
    stickiness_hours: int = 1,
    candidate: dict[str, Any] | None = None,
) -> str:
    text = f"""
timezone: Asia/Shanghai
stickiness_hours: {stickiness_hours}
rollout_salt: test-salt
channels:
  - {{id: ceair_app, scenarios: [flight_booking, checkin]}}
  - {{id: sms_landing, scenarios: [campaign]}}
{TAGS.strip()}
policy:{policy_block(prime=prime, near_prime=near_prime, cap=cap, prime_cost=prime_cost)}
"""
    if candidate is not None:
        text += f"""candidate:
  mode: {candidate["mode"]}
  share: {candidate.get("share", 0.0)}
  policy:{policy_block(indent=2, **candidate.get("policy", {}))}
"""
    return text


@asynccontextmanager
async def router(db_target: DbTarget, tmp_path: Path, **config: Any) -> AsyncIterator[Harness]:
    path = tmp_path / "router.yaml"
    path.write_text(config_text(**config), encoding="utf-8")
    async with running_service(build, db_target, path, clock=ManualClock(START)) as h:
        yield h


def ref(n: int | str) -> str:
    return f"applicant-{n:0>6}" if isinstance(n, int) else n


def request(
    applicant: int | str = 1,
    *,
    score: int | None = 720,
    age: int | None = 30,
    income: str | None = None,
    region: str | None = "CN-31",
    amount: int | None = 2_000_000,
    term: int = 12,
    channel: str = "ceair_app",
    scenario: str = "flight_booking",
    device: str = "",
    idem: str | None = None,
    tags: dict[str, router_pb2.TagValue] | None = None,
) -> router_pb2.RouteApplicantRequest:
    all_tags: dict[str, router_pb2.TagValue] = {}
    if score is not None:
        all_tags["external_credit_score"] = router_pb2.TagValue(int_value=score)
    if age is not None:
        all_tags["age"] = router_pb2.TagValue(int_value=age)
    if income is not None:
        all_tags["income_band"] = router_pb2.TagValue(string_value=income)
    if region is not None:
        all_tags["region"] = router_pb2.TagValue(string_value=region)
    all_tags.update(tags or {})
    granted = Timestamp()
    granted.FromDatetime(START)
    return router_pb2.RouteApplicantRequest(
        idempotency_key=key(idem or uuid.uuid4().hex),
        channel=channel,
        scenario=scenario,
        applicant=types_pb2.CustomerRef(ref=ref(applicant)),
        device_ref=device,
        consents=[
            router_pb2.ConsentRecord(
                recipient_classes=["licensed_bank"], purposes=["loan_referral"], granted_at=granted
            )
        ],
        tags=all_tags,
        requested_amount=types_pb2.Money(fen=amount) if amount is not None else None,
        term_months=term,
    )


def stub(h: Harness) -> router_pb2_grpc.RouterServiceStub:
    return router_pb2_grpc.RouterServiceStub(h.channel)


def ops(h: Harness) -> router_pb2_grpc.RouterOpsServiceStub:
    return router_pb2_grpc.RouterOpsServiceStub(h.channel)


async def reload(h: Harness, text: str) -> admin_pb2.ReloadConfigResponse:
    h.write_config(text)
    return await admin_pb2_grpc.AdminStub(h.channel).ReloadConfig(admin_pb2.ReloadConfigRequest(idempotency_key=key()))


def window(start: datetime, end: datetime) -> types_pb2.TimeWindow:
    a, b = Timestamp(), Timestamp()
    a.FromDatetime(start)
    b.FromDatetime(end)
    return types_pb2.TimeWindow(start=a, end=b)


DEST = router_pb2.Destination
IN_HOUSE = router_pb2.DESTINATION_IN_HOUSE
POOL = router_pb2.DESTINATION_PARTNER_POOL
DECLINED = router_pb2.DESTINATION_DECLINED


def codes(decision: router_pb2.RoutingDecision) -> list[str]:
    return [r.code for r in decision.reasons]
