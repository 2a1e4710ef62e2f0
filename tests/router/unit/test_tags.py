"""Tag specs: a categorical value must be a declared code, numbers must be in range, free text only has a
length; refusals never quote the value."""

from __future__ import annotations

import re

from services.router.domain.tags import DERIVED_TAGS, TagSpec, catalogue, type_matches

REGION = TagSpec("region", "string", values=frozenset({"CN-11", "CN-31"}))
POSTCODE = TagSpec("postcode", "string", pattern=re.compile(r"\d{6}"))
AGE = TagSpec("age", "int", 0, 120, kind="number")
NOTE = TagSpec("note", "string", kind="free_text", max_length=5)
NAME = "Zhang San"


def test_categorical_values_are_declared_codes() -> None:
    assert REGION.accepts("CN-31") and not REGION.accepts("CN-99")
    assert POSTCODE.accepts("310000") and not POSTCODE.accepts("31000")
    assert not POSTCODE.accepts(NAME) and not POSTCODE.accepts("310000 ")
    assert not REGION.accepts(31)


def test_refusals_never_quote_the_value() -> None:
    refusal = REGION.refusal(NAME)
    assert refusal is not None and NAME not in refusal
    assert AGE.refusal(121) == "must be between 0 and 120"
    assert AGE.refusal(120) is None
    assert NOTE.refusal("123456") == "at most 5 characters"
    assert NOTE.refusal("12345") is None


def test_numbers_are_in_range_and_booleans_are_not_numbers() -> None:
    assert AGE.in_range(0) and AGE.in_range(120) and not AGE.in_range(-1)
    assert not AGE.in_range(True)
    assert type_matches("number", 1) and type_matches("number", 1.5) and not type_matches("number", True)
    assert type_matches("int", 1) and not type_matches("int", 1.5)
    assert type_matches("bool", False) and not type_matches("bool", 0)
    assert type_matches("string", "x") and not type_matches("string", 1)


def test_the_catalogue_adds_derived_tags_a_declaration_cannot_shadow() -> None:
    declared = {"region": REGION, "channel": TagSpec("channel", "int", kind="number")}
    tags = catalogue(declared)
    assert tags["region"] is REGION
    assert tags["channel"] is DERIVED_TAGS["channel"] and tags["channel"].derived
    assert {"requested_amount_fen", "term_months", "scenario"} <= set(tags)
