"""Champion and candidate arms on one applicant, and in-house capacity handed out in arrival order (the
shadow arm asks whether a slot would be left, but never takes one)."""

from __future__ import annotations

import dataclasses

from services.router.domain import control as ctl
from services.router.domain.model import Arm, CapacityClaim, Destination, Mode
from services.router.domain.policy import CompiledPolicy
from services.router.domain.routing import CapacityLedger, CounterClaim, evaluate_arms, settle
from tests.router.unit.helpers import compiled, facts

DAY = "2026-01-05"


def _state(mode: Mode, share: float = 0.0) -> ctl.ControlState:
    state, _ = ctl.apply_file(None, "champion", None)
    return ctl.set_candidate(state, "candidate", mode, share) if mode != Mode.NONE else state


def test_without_a_candidate_only_the_champion_is_evaluated() -> None:
    arms = evaluate_arms(compiled(), None, _state(Mode.NONE), "salt", facts())
    assert (arms.arm, arms.shadow, arms.fallback) == (Arm.CHAMPION, None, False)


def test_shadow_mode_evaluates_the_candidate_beside_the_acting_champion() -> None:
    arms = evaluate_arms(compiled(), compiled(prime=730), _state(Mode.SHADOW), "salt", facts(score=720))
    assert (arms.arm, arms.acting.tier, arms.shadow_arm) == (Arm.CHAMPION, "prime", Arm.CANDIDATE)
    assert arms.shadow is not None and arms.shadow.tier == "near_prime"


def test_a_full_rollout_lets_the_candidate_act_and_shadows_the_champion() -> None:
    arms = evaluate_arms(compiled(), compiled(prime=730), _state(Mode.ROLLOUT, 1.0), "salt", facts(score=720))
    assert (arms.arm, arms.acting.tier, arms.shadow_arm) == (Arm.CANDIDATE, "near_prime", Arm.CHAMPION)


class _Broken(CompiledPolicy):
    def evaluate(self, facts: object) -> object:  # type: ignore[override]
        raise RuntimeError("broken candidate")


def test_a_failing_candidate_never_breaks_routing() -> None:
    broken = _Broken(compiled().policy, "broken")
    arms = evaluate_arms(compiled(), broken, _state(Mode.ROLLOUT, 1.0), "salt", facts())
    assert (arms.arm, arms.shadow, arms.fallback) == (Arm.CHAMPION, None, True)
    shadowed = evaluate_arms(compiled(), broken, _state(Mode.SHADOW), "salt", facts())
    assert (shadowed.arm, shadowed.fallback) == (Arm.CHAMPION, False)


def test_slots_go_in_order_until_the_cap_then_overflow() -> None:
    ledger = CapacityLedger({("travel_loan", DAY): 1})
    arms = evaluate_arms(compiled(cap=3), None, _state(Mode.NONE), "salt", facts())
    destinations = [settle(arms, ledger, DAY)[0].destination for _ in range(3)]
    assert destinations == [Destination.IN_HOUSE, Destination.IN_HOUSE, Destination.PARTNER_POOL]
    assert ledger.changes() == {("travel_loan", DAY): (1, 3)}


def test_the_shadow_arm_never_takes_a_slot() -> None:
    ledger = CapacityLedger({("travel_loan", DAY): 0})
    arms = evaluate_arms(compiled(cap=1), compiled(cap=1), _state(Mode.SHADOW), "salt", facts())
    decision, shadow = settle(arms, ledger, DAY)
    assert decision.destination == Destination.IN_HOUSE
    # The shadow asked first, while a slot was still free.
    assert shadow is not None and shadow.destination == Destination.IN_HOUSE
    assert ledger.changes() == {("travel_loan", DAY): (0, 1)}
    _, later_shadow = settle(arms, ledger, DAY)
    assert later_shadow is not None and later_shadow.destination == Destination.PARTNER_POOL


def test_days_and_products_have_their_own_counters() -> None:
    ledger = CapacityLedger()
    claim = CapacityClaim("travel_loan", 1)
    assert ledger.take(claim, DAY) and not ledger.take(claim, DAY)
    assert ledger.take(claim, "2026-01-06")
    assert ledger.take(dataclasses.replace(claim, product_id="other"), DAY)


def test_a_claim_holds_while_the_counter_reads_at_most_the_tightest_room_any_grant_needed() -> None:
    ledger = CapacityLedger({("travel_loan", DAY): 2})
    loose, tight = CapacityClaim("travel_loan", 10), CapacityClaim("travel_loan", 5)
    assert ledger.take(loose, DAY) and ledger.take(tight, DAY) and ledger.take(loose, DAY)
    # Three slots taken; the second grant (cap 5, two taken by then) needed the counter at <= 3 before them.
    assert ledger.claims() == {("travel_loan", DAY): CounterClaim(taken=3, slack=3)}
    assert CapacityLedger({("travel_loan", DAY): 4}).claims() == {}
