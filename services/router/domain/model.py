"""Value objects of routing: the de-identified facts a decision is made from and the decision itself."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from services.router.domain.tags import TagScalar

DECLINED_TIER = "declined"


class Destination(StrEnum):
    IN_HOUSE = "IN_HOUSE"
    PARTNER_POOL = "PARTNER_POOL"
    DECLINED = "DECLINED"


class Arm(StrEnum):
    CHAMPION = "CHAMPION"
    CANDIDATE = "CANDIDATE"


class Mode(StrEnum):
    NONE = "none"
    SHADOW = "shadow"
    ROLLOUT = "rollout"


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class Facts:
    """Everything a policy looks at, minus anything that identifies a person: `attributes` hold typed tag
    values only (codes, numbers, booleans; free-text tags are dropped at validation), and are what a decision
    records as its inputs.

    `applicant_history` / `device_history` are the ages in seconds of the earlier counted decisions
    of the same applicant / device (newest first), so velocity rules of any window can be replayed.
    """

    applicant_ref: str
    channel: str
    scenario: str
    attributes: Mapping[str, TagScalar]
    has_device: bool = False
    applicant_history: tuple[float, ...] = ()
    device_history: tuple[float, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "scenario": self.scenario,
            "attributes": dict(self.attributes),
            "has_device": self.has_device,
            "applicant_history": list(self.applicant_history),
            "device_history": list(self.device_history),
        }

    @classmethod
    def from_json(cls, applicant_ref: str, data: Mapping[str, Any]) -> Facts:
        return cls(
            applicant_ref=applicant_ref,
            channel=str(data["channel"]),
            scenario=str(data["scenario"]),
            attributes=dict(data["attributes"]),
            has_device=bool(data.get("has_device", False)),
            applicant_history=tuple(data.get("applicant_history", ())),
            device_history=tuple(data.get("device_history", ())),
        )


@dataclass(frozen=True)
class CapacityClaim:
    """An in-house slot the policy asks for: one applicant on `product_id` under `daily_cap`."""

    product_id: str
    daily_cap: int


@dataclass(frozen=True)
class Evaluation:
    """A policy's view of one applicant before in-house capacity is known."""

    policy_version: str
    tier: str
    score: int
    reasons: tuple[Reason, ...]
    # Set when the applicant qualifies for the in-house product and only capacity is left to check.
    capacity_claim: CapacityClaim | None
    # Destination when the claim is refused (or when there is no claim).
    fallback: Destination


@dataclass(frozen=True)
class PolicyDecision:
    """The final decision of one policy arm. A pool decision is an explicit value the partner layer acts on."""

    policy_version: str
    arm: Arm
    tier: str
    score: int
    destination: Destination
    product_id: str
    reasons: tuple[Reason, ...] = field(default=())

    def same_outcome(self, other: PolicyDecision) -> bool:
        return self.tier == other.tier and self.destination == other.destination
