"""The partner registry is checked at load: duplicate ids, unknown waterfall partners, pricing, time zone."""

from __future__ import annotations

import pytest

from services.common.config import ConfigError, parse_document
from services.router.partners.config import PartnersConfig


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "lenders: [{id: a1, endpoint: 'x:1', tiers: [tail], annual_cost_rate: 0.1}, "
            "{id: a1, endpoint: 'x:2', tiers: [tail], annual_cost_rate: 0.1}]",
            "lenders.1.id: duplicate partner id 'a1' (also item 0)",
        ),
        ("waterfall: {tail: [ghost]}", "waterfall.tail: unknown partner 'ghost' (no partners are configured)"),
        (
            "lenders: [{id: a1, endpoint: 'x:1', tiers: [tail], annual_cost_rate: 0.1, pricing: {mode: fixed}}]",
            "fixed-price partner needs fixed_price_fen",
        ),
        ("caps_timezone: Mars/Olympus", "unknown time zone"),
    ],
)
def test_bad_registries_are_refused_at_load(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_document(text, PartnersConfig, "partners")
    assert expected in str(err.value)
