"""The shipped programme loads; a broken edit is refused with a message naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.config import ConfigError, ConfigStore
from services.growth.config import GrowthConfig

REPO = Path(__file__).resolve().parents[2]


def test_default_programme_is_realistic() -> None:
    cfg = ConfigStore(REPO / "config" / "growth.yaml", GrowthConfig).model
    assert len(cfg.levels.tiers) == 5 and len(cfg.tasks) >= 12
    travel = {r.id for r in cfg.rights if r.category == "travel"}
    assert travel == {
        "lounge_access",
        "fast_track_security",
        "extra_baggage",
        "seat_upgrade",
        "travel_insurance",
        "airport_transfer",
    }
    assert all(r.stock > 0 and (r.quota or r.level_quotas) for r in cfg.rights)


def test_invalid_programme_is_refused(tmp_path: Path) -> None:
    store = ConfigStore(REPO / "config" / "growth.yaml", GrowthConfig)
    bad = """
levels: {tiers: [{id: base, threshold: 0}, {id: top, threshold: 0}]}
rights: [{id: lounge, name: L, points_price: 10, stock: 1, min_level: gold}]
"""
    with pytest.raises(ConfigError) as err:
        store.parse(bad)
    assert "thresholds must increase" in str(err.value)


SHIPPED = (REPO / "config" / "growth.yaml").read_text(encoding="utf-8")
LOUNGE_QUOTAS = "level_quotas: {gold: {count: 2, period: year}"

# Each cross-reference the loader checks: the edit that breaks it, and the refusal (field path and bad value).
BROKEN_REFERENCES = {
    "right min_level": (
        SHIPPED.replace("min_level: platinum,", "min_level: platnum,"),
        "rights.3.min_level: unknown level 'platnum' (levels are: blue, silver, gold, platinum, diamond)",
    ),
    "level_quotas level": (
        SHIPPED.replace(LOUNGE_QUOTAS, "level_quotas: {golden: {count: 2, period: year}"),
        "rights.0.level_quotas: unknown level 'golden' (levels are: blue, silver, gold, platinum, diamond)",
    ),
    "level_quotas below min_level": (
        SHIPPED.replace(LOUNGE_QUOTAS, "level_quotas: {blue: {count: 2, period: year}"),
        "rights.0.level_quotas: level 'blue' is below min_level 'silver' "
        "(levels that may redeem it: silver, gold, platinum, diamond)",
    ),
    "duplicate task": (
        SHIPPED.replace("id: share_trip", "id: daily_sign_in"),
        "tasks.10.id: duplicate task id 'daily_sign_in' (also item 0)",
    ),
    "duplicate right": (
        SHIPPED.replace("{id: coffee_voucher,", "{id: lounge_access,"),
        "rights.6.id: duplicate right id 'lounge_access' (also item 0)",
    ),
    "duplicate level": (
        SHIPPED.replace("{id: diamond,", "{id: gold,"),
        "levels.tiers.4.id: duplicate level id 'gold' (also item 2)",
    ),
    "default hold TTL above the maximum": (
        SHIPPED.replace("default_ttl_seconds: 900", "default_ttl_seconds: 700000"),
        "holds.default_ttl_seconds: 700000 is above max_ttl_seconds (604800)",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_REFERENCES))
def test_a_broken_cross_reference_is_refused_naming_the_field_and_the_value(case: str, tmp_path: Path) -> None:
    text, expected = BROKEN_REFERENCES[case]
    assert text != SHIPPED
    path = tmp_path / "growth.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        ConfigStore(path, GrowthConfig)
    assert any(e.startswith(expected) for e in refused.value.errors), refused.value.errors
