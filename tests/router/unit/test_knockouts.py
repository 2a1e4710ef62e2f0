"""Knock-outs: each one declines with its reason, whatever the score; velocity counts the history given."""

from __future__ import annotations

from services.router.domain.model import DECLINED_TIER, Destination
from tests.router.unit.helpers import HOUR, codes, compiled, facts


def _declined(**kwargs: object) -> list[str]:
    evaluation = compiled().evaluate(facts(**kwargs))  # type: ignore[arg-type]
    assert (evaluation.tier, evaluation.fallback) == (DECLINED_TIER, Destination.DECLINED)
    return codes(evaluation.reasons)


def test_age_bounds_are_inclusive_and_an_unknown_age_is_refused() -> None:
    assert _declined(age=17) == ["AGE_OUT_OF_RANGE"]
    assert _declined(age=61) == ["AGE_OUT_OF_RANGE"]
    assert compiled().evaluate(facts(age=18)).tier == "prime"
    assert compiled().evaluate(facts(age=60)).tier == "prime"
    assert _declined(age=None) == ["AGE_UNKNOWN"]


def test_blocked_region_deny_list_and_rules() -> None:
    assert _declined(region="CN-65") == ["REGION_BLOCKED"]
    assert _declined(applicant="deny-ref-0001") == ["DENY_LISTED"]
    assert _declined(income="none") == ["NO_INCOME"]


def test_every_knockout_that_applies_is_listed() -> None:
    assert _declined(age=70, region="CN-65") == ["AGE_OUT_OF_RANGE", "REGION_BLOCKED"]


def test_applicant_velocity_counts_decisions_inside_its_window() -> None:
    # At most 2 applications in 48 h, this one included.
    assert compiled().evaluate(facts(applicant_history=(1 * HOUR,))).tier == "prime"
    assert _declined(applicant_history=(1 * HOUR, 2 * HOUR)) == ["VELOCITY_APPLICANT"]
    assert compiled().evaluate(facts(applicant_history=(2 * HOUR, 48 * HOUR))).tier == "prime"


def test_device_velocity_counts_only_with_a_device() -> None:
    # At most 3 applications per device in 24 h.
    busy = (0.0, 1 * HOUR, 2 * HOUR)
    assert _declined(device=True, device_history=busy) == ["VELOCITY_DEVICE"]
    assert compiled().evaluate(facts(device=False, device_history=busy)).tier == "prime"
    assert compiled().evaluate(facts(device=True, device_history=(0.0, 1 * HOUR, 24 * HOUR))).tier == "prime"


def test_velocity_reason_says_how_many_within_which_window() -> None:
    (reason,) = compiled().evaluate(facts(applicant_history=(0.0, 0.0))).reasons
    assert reason.message == "3 applications from this applicant within 48h (at most 2)"
