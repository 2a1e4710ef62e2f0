"""Which arm acts, what the other arm would have done, and how in-house capacity is handed out (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from services.router.domain.control import ControlState, acting_arm
from services.router.domain.model import Arm, CapacityClaim, Evaluation, Facts, Mode, PolicyDecision
from services.router.domain.policy import CompiledPolicy, finalize

log = structlog.get_logger("skylane.router")


@dataclass(frozen=True)
class ArmEvaluations:
    acting: Evaluation
    arm: Arm
    # The other policy's evaluation, recorded but never acted on (None without a candidate).
    shadow: Evaluation | None
    shadow_arm: Arm | None
    # The candidate should have acted but failed; the champion acted instead.
    fallback: bool


def evaluate_arms(
    champion: CompiledPolicy, candidate: CompiledPolicy | None, state: ControlState, salt: str, facts: Facts
) -> ArmEvaluations:
    champion_eval = champion.evaluate(facts)
    if candidate is None or state.mode == Mode.NONE:
        return ArmEvaluations(champion_eval, Arm.CHAMPION, None, None, False)
    arm = acting_arm(state, salt, facts.applicant_ref)
    try:
        candidate_eval = candidate.evaluate(facts)
    except Exception:  # a candidate must never break live routing: the champion decides instead
        log.exception("candidate_policy_failed", candidate=candidate.version)
        return ArmEvaluations(champion_eval, Arm.CHAMPION, None, None, arm == Arm.CANDIDATE)
    if arm == Arm.CANDIDATE:
        return ArmEvaluations(candidate_eval, Arm.CANDIDATE, champion_eval, Arm.CHAMPION, False)
    return ArmEvaluations(champion_eval, Arm.CHAMPION, candidate_eval, Arm.CANDIDATE, False)


@dataclass(frozen=True)
class CounterClaim:
    """What a batch took from one counter: `taken` slots, valid as long as the counter still reads at most
    `slack` when they are added (every grant k of the batch needed used + k <= its cap)."""

    taken: int
    slack: int


@dataclass
class CapacityLedger:
    """In-house slots per (product, local day); `used` starts from the counter rows as read (locked, or
    read unlocked and claimed at commit: see `claims`)."""

    used: dict[tuple[str, str], int] = field(default_factory=dict)
    start: Mapping[tuple[str, str], int] = field(default_factory=dict)
    slack: dict[tuple[str, str], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.start = dict(self.used)

    def available(self, claim: CapacityClaim, day: str) -> bool:
        return self.used.get((claim.product_id, day), 0) + 1 <= claim.daily_cap

    def take(self, claim: CapacityClaim, day: str) -> bool:
        if not self.available(claim, day):
            return False
        key = (claim.product_id, day)
        self.used[key] = self.used.get(key, 0) + 1
        # Champion and candidate may cap a product differently: keep the tightest room any grant needed.
        taken = self.used[key] - self.start.get(key, 0)
        self.slack[key] = min(self.slack.get(key, claim.daily_cap), claim.daily_cap - taken)
        return True

    def changes(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(old, new) per counter that moved."""
        return {k: (self.start.get(k, 0), v) for k, v in self.used.items() if v != self.start.get(k, 0)}

    def claims(self) -> dict[tuple[str, str], CounterClaim]:
        """Per counter that moved, the slots taken and the highest reading under which every grant still
        holds. Counters only grow, so a reading taken earlier can only have granted too much, never
        refused wrongly: the batch stands exactly when the counter now reads <= slack."""
        return {k: CounterClaim(new - old, self.slack[k]) for k, (old, new) in self.changes().items()}


def settle(arms: ArmEvaluations, ledger: CapacityLedger, day: str) -> tuple[PolicyDecision, PolicyDecision | None]:
    """The acting arm's decision, taking an in-house slot when it claims one and one is left; and the shadow
    arm's, which only asks whether a slot would have been left (it never takes one)."""
    shadow = None
    if arms.shadow is not None and arms.shadow_arm is not None:
        claim = arms.shadow.capacity_claim
        shadow = finalize(arms.shadow, arms.shadow_arm, claim is not None and ledger.available(claim, day))
    claim = arms.acting.capacity_claim
    return finalize(arms.acting, arms.arm, claim is not None and ledger.take(claim, day)), shadow
