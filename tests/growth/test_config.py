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
