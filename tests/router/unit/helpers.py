"""Shared pieces of the router's unit tests: the hand-computable test policy as a compiled domain object,
and facts about one applicant. No server, no database."""

from __future__ import annotations

from typing import Any

import yaml

from services.router.config import Policy
from services.router.domain.model import Facts
from services.router.domain.policy import CompiledPolicy
from services.router.domain.tags import TagScalar
from tests.router.helpers import policy_block

HOUR = 3600.0


def compiled(**thresholds: Any) -> CompiledPolicy:
    """The integration tests' policy (tests/router/helpers.py): score = external score, +50 for a high
    income; prime >= 700 in-house, near_prime >= 600 and tail >= 500 to the pool, below 500 declined."""
    return CompiledPolicy(Policy.model_validate(yaml.safe_load(policy_block(**thresholds))))


def facts(
    applicant: str = "applicant-000001",
    *,
    score: int | None = 720,
    age: int | None = 30,
    income: str | None = None,
    region: str | None = "CN-31",
    amount: int | None = 2_000_000,
    term: int | None = 12,
    device: bool = False,
    applicant_history: tuple[float, ...] = (),
    device_history: tuple[float, ...] = (),
) -> Facts:
    attributes: dict[str, TagScalar] = {"channel": "ceair_app", "scenario": "flight_booking"}
    for name, value in (
        ("external_credit_score", score),
        ("age", age),
        ("income_band", income),
        ("region", region),
        ("requested_amount_fen", amount),
        ("term_months", term),
    ):
        if value is not None:
            attributes[name] = value
    return Facts(
        applicant_ref=applicant,
        channel="ceair_app",
        scenario="flight_booking",
        attributes=attributes,
        has_device=device,
        applicant_history=applicant_history,
        device_history=device_history,
    )


def codes(reasons: Any) -> list[str]:
    return [r.code for r in reasons]
