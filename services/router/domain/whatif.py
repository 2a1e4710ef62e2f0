"""What-if: replay recorded decisions under a candidate policy, without touching live state (pure)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from services.router.domain.model import Arm, Destination, Facts, PolicyDecision, Reason
from services.router.domain.policy import CompiledPolicy, finalize
from services.router.domain.routing import CapacityLedger


@dataclass(frozen=True)
class RecordedDecision:
    decision_id: str
    facts: Facts
    local_day: str
    tier: str
    destination: Destination
    score: int
    reasons: tuple[Reason, ...]


@dataclass
class Mix:
    by_tier: Counter[str] = field(default_factory=Counter)
    by_destination: Counter[str] = field(default_factory=Counter)

    def add(self, tier: str, destination: Destination) -> None:
        self.by_tier[tier] += 1
        self.by_destination[destination.value] += 1


@dataclass(frozen=True)
class Change:
    before: RecordedDecision
    after: PolicyDecision


@dataclass
class WhatIfResult:
    candidate_version: str
    replayed: int = 0
    before: Mix = field(default_factory=Mix)
    after: Mix = field(default_factory=Mix)
    changed: int = 0
    samples: list[Change] = field(default_factory=list)


def replay(recorded: Iterable[RecordedDecision], candidate: CompiledPolicy, max_samples: int) -> WhatIfResult:
    """Decisions are replayed oldest first; the in-house cap is simulated per local day from zero."""
    result = WhatIfResult(candidate.version)
    ledger = CapacityLedger()
    for row in recorded:
        evaluation = candidate.evaluate(row.facts)
        granted = evaluation.capacity_claim is not None and ledger.take(evaluation.capacity_claim, row.local_day)
        after = finalize(evaluation, Arm.CANDIDATE, granted)
        result.replayed += 1
        result.before.add(row.tier, row.destination)
        result.after.add(after.tier, after.destination)
        if after.tier != row.tier or after.destination != row.destination:
            result.changed += 1
            if len(result.samples) < max_samples:
                result.samples.append(Change(row, after))
    return result
