"""What RouteApplicant's use case takes and what its hooks see.

Partner routing plugs in through `RoutingHook`: `prepare` runs per request outside the transaction
(e.g. pinging partners), `in_transaction` runs inside the batch's write transaction with every new
decision (e.g. writing the lead and its outbox row) and may set `outcome.partner`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from services.router.domain.model import Facts, PolicyDecision
from services.router.domain.tags import TagScalar
from services.router.service.policies import Snapshot
from skylane.router.v1 import router_pb2


@dataclass
class RouteCommand:
    """A validated, de-identified RouteApplicant request. `attributes` is what decides and is recorded (typed
    tags, free text already dropped); `request` is the raw message, for the partner layer's typed fields
    (consents, amount, term, phone hash) only, and is never stored."""

    key: str
    fingerprint: str
    applicant_ref: str
    device_ref: str | None
    channel: str
    scenario: str
    attributes: dict[str, TagScalar]
    request: router_pb2.RouteApplicantRequest
    # Scratch space for hooks (e.g. partner bids gathered in prepare()).
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class RouteOutcome:
    """A new (non-repeat) decision inside the write transaction, as hooks see it."""

    command: RouteCommand
    decision_id: str
    decided_at: datetime
    decision: PolicyDecision
    shadow: PolicyDecision | None
    fallback: bool
    facts: Facts
    config_version: str
    # Set by the partner layer for pool decisions.
    partner: router_pb2.PartnerRouting | None = None


class RoutingHook(Protocol):
    async def prepare(self, command: RouteCommand, snapshot: Snapshot) -> None: ...

    async def in_transaction(self, session: AsyncSession, outcomes: Sequence[RouteOutcome]) -> None: ...
