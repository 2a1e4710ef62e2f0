"""The in-house product's rules: amount range, offered terms, cost ceiling and conditions send prime
applicants to the pool, each with its reason."""

from __future__ import annotations

import yaml

from services.router.config import Policy
from services.router.domain.model import Destination
from services.router.domain.policy import CompiledPolicy
from tests.router.helpers import policy_block
from tests.router.unit.helpers import codes, compiled, facts


def test_amount_outside_the_range_goes_to_the_pool() -> None:
    small = compiled().evaluate(facts(amount=99_999))
    assert (small.tier, small.capacity_claim, small.fallback) == ("prime", None, Destination.PARTNER_POOL)
    assert "IN_HOUSE_AMOUNT_OUT_OF_RANGE" in codes(small.reasons)
    assert compiled().evaluate(facts(amount=100_000, term=6)).capacity_claim is not None


def test_a_term_not_offered_goes_to_the_pool() -> None:
    assert codes(compiled().evaluate(facts(term=24)).reasons)[-1] == "IN_HOUSE_TERM_NOT_OFFERED"


def test_a_cost_above_the_ceiling_goes_to_the_pool() -> None:
    pricey = compiled(prime_cost=2500).evaluate(facts())
    assert (pricey.tier, pricey.capacity_claim) == ("prime", None)
    assert "IN_HOUSE_COST_ABOVE_CEILING" in codes(pricey.reasons)


def test_unmet_conditions_go_to_the_pool() -> None:
    document = yaml.safe_load(policy_block())
    document["in_house"]["conditions"] = [{"attribute": "region", "op": "in", "value": ["CN-11"]}]
    policy = CompiledPolicy(Policy.model_validate(document))
    assert codes(policy.evaluate(facts(region="CN-31")).reasons)[-1] == "IN_HOUSE_CONDITION_UNMET"
    assert policy.evaluate(facts(region="CN-11")).capacity_claim is not None
