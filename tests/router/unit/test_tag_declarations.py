"""Tag declarations in the router config: the shipped config types every tag, declarations are checked at
load, and conditions must fit the declared types and values."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.common.config import ConfigError, parse_document
from services.router.config import RouterConfig
from services.router.domain.tags import catalogue
from tests.router.helpers import config_text

REPO = Path(__file__).resolve().parents[3]
NAME = "张三"
MOBILE = "13812345678"
ID_NUMBER = "110101199003074514"
LEAK = f"{NAME} {MOBILE} {ID_NUMBER}"


def errors_of(text_: str) -> str:
    with pytest.raises(ConfigError) as bad:
        parse_document(text_, RouterConfig, "<test>")
    return "; ".join(bad.value.errors)


def test_the_shipped_config_types_every_tag() -> None:
    loaded = parse_document((REPO / "config" / "router.yaml").read_text(), RouterConfig, "config/router.yaml")
    tags = catalogue(loaded.model.tag_specs())
    region = tags["region"]
    assert region.kind == "categorical"
    assert region.accepts("310000") and region.accepts("110101")
    for bad in (ID_NUMBER, MOBILE, "31000", "990000", NAME, LEAK, "310000 "):
        assert not region.accepts(bad), bad
    assert tags["income_band"].accepts("high") and not tags["income_band"].accepts(NAME)
    assert (tags["age"].kind, tags["age"].minimum, tags["age"].maximum) == ("number", 0, 120)
    assert tags["existing_customer"].kind == "boolean"


def test_declarations_are_checked_at_load() -> None:
    base = config_text()
    assert "extra_tags was replaced by `tags`" in errors_of(base + "extra_tags: {nickname: string}\n")
    loose = base.replace("{type: categorical, values: [CN-11, CN-31, CN-44, CN-65]}", "{type: categorical}")
    assert "declares its `values`, a `pattern`, or both" in errors_of(loose)
    named = base.replace("[CN-11, CN-31, CN-44, CN-65]", f"[CN-31, {NAME}]")
    assert "are not codes" in errors_of(named)
    off_pattern = base.replace("values: [CN-11, CN-31, CN-44, CN-65]", "values: ['31000', '310000'], pattern: '\\d{6}'")
    assert "['31000'] are not codes" in errors_of(off_pattern)
    backwards = base.replace("min: 0, max: 120", "min: 120, max: 0")
    assert "min must not exceed max" in errors_of(backwards)
    shadowing = base.replace("  note: {type: free_text", "  channel: {type: free_text")
    assert "must be lower-case identifiers other than" in errors_of(shadowing)


def test_conditions_must_fit_the_declarations() -> None:
    base = config_text()
    on_free_text = base.replace("attribute: income_band, op: eq, value: none", "attribute: note, op: exists")
    assert "'note' is free text" in errors_of(on_free_text)
    undeclared_value = base.replace("{op: eq, value: high, points: 50}", "{op: eq, value: rich, points: 50}")
    assert "'rich' is not a declared value of 'income_band'" in errors_of(undeclared_value)
    in_list = base.replace("{op: eq, value: high, points: 50}", "{op: in, value: [high, rich], points: 50}")
    assert "['rich'] are not declared values of 'income_band'" in errors_of(in_list)
    blocked = base.replace("blocked_regions: [CN-65]", "blocked_regions: [CN-XX-BLOCKED]")
    assert "regions ['CN-XX-BLOCKED'] are not declared values of 'region'" in errors_of(blocked)
    partner = base + (
        "partners:\n  lenders:\n    - {id: p1, endpoint: '127.0.0.1:1', token: t, tiers: [tail],"
        " annual_cost_rate: 0.1, eligibility: {regions: [CN-31, Shanghai]}}\n"
    )
    assert "partners.lenders: regions ['Shanghai'] are not declared values" in errors_of(partner)
