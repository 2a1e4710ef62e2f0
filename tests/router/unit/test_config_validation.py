"""Router config validation at load: the shipped config, tier thresholds, unknown attributes and operators."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.config import ConfigError, parse_document
from services.router.config import RouterConfig
from tests.router.helpers import config_text, policy_block

REPO = Path(__file__).resolve().parents[3]


def errors_of(text: str) -> str:
    with pytest.raises(ConfigError) as bad:
        parse_document(text, RouterConfig, "<test>")
    return "; ".join(bad.value.errors)


def test_default_config_loads() -> None:
    loaded = parse_document((REPO / "config" / "router.yaml").read_text(), RouterConfig, "config/router.yaml")
    assert [t.name for t in loaded.model.policy.tiers] == ["prime", "near_prime", "tail"]
    assert len(loaded.model.channels) >= 3


def test_unordered_or_overlapping_thresholds_are_refused_with_the_reason() -> None:
    assert "near_prime (700) overlaps or is above prime (700)" in errors_of(config_text(prime=700, near_prime=700))
    assert "near_prime (720) overlaps or is above prime (700)" in errors_of(config_text(prime=700, near_prime=720))


def test_unknown_attribute_or_operator_is_refused_at_load() -> None:
    text = config_text().replace("attribute: income_band, op: eq", "attribute: incme_band, op: eq")
    assert "unknown attribute 'incme_band'" in errors_of(text)
    text = config_text().replace("{op: eq, value: high, points: 50}", "{op: like, value: high, points: 50}")
    assert "unknown operator 'like'" in errors_of(text)
    text = config_text().replace("{op: eq, value: high, points: 50}", "{op: gt, value: high, points: 50}")
    assert "needs a numeric attribute" in errors_of(text)


# Two lenders over the test policy's tiers (prime, near_prime, tail) and channels (ceair_app, sms_landing).
PARTNERS = """
partners:
  waterfall: {near_prime: [alpha, beta], tail: [beta, alpha]}
  pool_tiers: [near_prime, tail]
  delivery: {base_backoff_ms: 500, max_backoff_ms: 60000}
  lenders:
    - {id: alpha, endpoint: '127.0.0.1:1', token: t-alpha, tiers: [near_prime, tail], annual_cost_rate: 0.1,
       pricing: {min_price_fen: {near_prime: 1500, tail: 800}}}
    - {id: beta, endpoint: '127.0.0.1:2', token: t-beta, tiers: [tail], annual_cost_rate: 0.1}
"""
GOOD = config_text() + PARTNERS
NO_INCOME = "{attribute: income_band, op: eq, value: none}"

# Each cross-reference the loader checks: the edit that breaks it, and the refusal (field path and bad value).
BROKEN_REFERENCES = {
    "partner tier": (
        GOOD.replace("tiers: [tail], annual", "tiers: [tail, gold], annual"),
        "partners.lenders.1.tiers: unknown tier 'gold' (tiers are: prime, near_prime, tail)",
    ),
    "waterfall tier": (
        GOOD.replace("tail: [beta, alpha]", "tial: [beta, alpha]"),
        "partners.waterfall: unknown tier 'tial' (tiers are: prime, near_prime, tail)",
    ),
    "min_price_fen tier": (
        GOOD.replace("{near_prime: 1500, tail", "{near_prim: 1500, tail"),
        "partners.lenders.0.pricing.min_price_fen: unknown tier 'near_prim' (tiers are: prime, near_prime, tail)",
    ),
    "pool tier": (
        GOOD.replace("pool_tiers: [near_prime, tail]", "pool_tiers: [near_prime, subprime]"),
        "partners.pool_tiers: unknown tier 'subprime' (tiers are: prime, near_prime, tail)",
    ),
    "in-house price tier": (
        GOOD.replace("annual_cost_bp: {prime: 1080}", "annual_cost_bp: {prime: 1080, gold: 900}"),
        "policy.in_house.annual_cost_bp: unknown tier 'gold' (tiers are: prime, near_prime, tail)",
    ),
    "waterfall partner": (
        GOOD.replace("near_prime: [alpha, beta]", "near_prime: [alpha, betta]"),
        "partners.waterfall.near_prime: unknown partner 'betta' (partners are: alpha, beta)",
    ),
    "waterfall partner twice": (
        GOOD.replace("near_prime: [alpha, beta]", "near_prime: [alpha, alpha]"),
        "partners.waterfall.near_prime.1: duplicate partner 'alpha' (also item 0)",
    ),
    "duplicate partner": (
        GOOD.replace("{id: beta,", "{id: alpha,"),
        "partners.lenders.1.id: duplicate partner id 'alpha' (also item 0)",
    ),
    "duplicate tier": (
        GOOD.replace("{name: tail, min_score: 500", "{name: prime, min_score: 500"),
        "policy.tiers.2.name: duplicate tier name 'prime' (also item 0)",
    ),
    "reserved tier name": (
        GOOD.replace("{name: tail, min_score: 500", "{name: declined, min_score: 500"),
        "policy.tiers.2.name: tier name 'declined' is reserved",
    ),
    "duplicate channel": (
        GOOD.replace("{id: sms_landing,", "{id: ceair_app,"),
        "channels.1.id: duplicate channel id 'ceair_app' (also item 0)",
    ),
    "condition channel": (
        GOOD.replace(NO_INCOME, "{attribute: channel, op: in, value: [sms_landing, ceair_ap]}"),
        "policy.knockouts.rules.0.all.0: unknown channel 'ceair_ap' (channels are: ceair_app, sms_landing)",
    ),
    "condition scenario": (
        GOOD.replace(NO_INCOME, "{attribute: scenario, op: eq, value: check_in}"),
        "policy.knockouts.rules.0.all.0: unknown scenario 'check_in' "
        "(scenarios are: flight_booking, checkin, campaign)",
    ),
    "delivery backoff": (
        GOOD.replace("base_backoff_ms: 500,", "base_backoff_ms: 90000,"),
        "partners.delivery.base_backoff_ms: 90000 is above max_backoff_ms (60000)",
    ),
}


def test_the_partner_registry_over_the_test_policy_loads() -> None:
    loaded = parse_document(GOOD, RouterConfig, "<test>").model
    assert [p.id for p in loaded.partners.lenders] == ["alpha", "beta"]


@pytest.mark.parametrize("case", sorted(BROKEN_REFERENCES))
def test_a_broken_cross_reference_is_refused_naming_the_field_and_the_value(case: str) -> None:
    text, expected = BROKEN_REFERENCES[case]
    with pytest.raises(ConfigError) as refused:
        parse_document(text, RouterConfig, "<test>")
    assert any(e.startswith(expected) for e in refused.value.errors), refused.value.errors


def test_a_partner_may_take_a_tier_only_the_candidate_policy_defines() -> None:
    candidate = "candidate:\n  mode: shadow\n  policy:" + policy_block(indent=2).replace("name: tail", "name: gold")
    text = config_text() + candidate + PARTNERS.replace("tiers: [tail], annual", "tiers: [tail, gold], annual")
    assert parse_document(text, RouterConfig, "<test>").model.partners.lenders[1].tiers == ["tail", "gold"]
