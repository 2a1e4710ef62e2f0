"""Router config validation at load: the shipped config, tier thresholds, unknown attributes and operators."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.config import ConfigError, parse_document
from services.router.config import RouterConfig
from tests.router.helpers import config_text

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
