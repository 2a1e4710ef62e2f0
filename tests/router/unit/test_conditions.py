"""Condition operators: how each holds over typed attributes, and which conditions the config refuses."""

from __future__ import annotations

import pytest

from services.router.domain.conditions import check_condition, holds
from services.router.domain.tags import TagSpec

ATTRS = {"age": 30, "region": "CN-31", "existing_customer": True}
AGE = TagSpec("age", "int", 0, 120, kind="number")
REGION = TagSpec("region", "string", values=frozenset({"CN-11", "CN-31"}))
NOTE = TagSpec("note", "string", kind="free_text", max_length=10)


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("eq", 30, True),
        ("ne", 30, False),
        ("lt", 31, True),
        ("le", 30, True),
        ("gt", 30, False),
        ("ge", 30, True),
        ("in", [29, 30], True),
        ("not_in", [29, 30], False),
        ("between", [30, 31], True),
        ("between", [25, 30], False),
        ("exists", None, True),
        ("missing", None, False),
    ],
)
def test_each_operator_on_a_present_attribute(op: str, value: object, expected: bool) -> None:
    assert holds(ATTRS, "age", op, value) is expected


def test_a_condition_on_a_missing_attribute_is_false_except_missing() -> None:
    for op, value in (("eq", 1), ("ne", 1), ("lt", 1), ("in", [1]), ("not_in", [1]), ("exists", None)):
        assert holds(ATTRS, "income", op, value) is False, op
    assert holds(ATTRS, "income", "missing", None) is True


def test_an_unknown_operator_raises() -> None:
    with pytest.raises(ValueError, match="unknown operator"):
        holds(ATTRS, "age", "like", 1)


def test_valid_conditions_pass() -> None:
    assert check_condition(AGE, "age", "between", [18, 65]) is None
    assert check_condition(REGION, "region", "in", ["CN-11"]) is None
    assert check_condition(REGION, "region", "exists", None) is None


@pytest.mark.parametrize(
    ("spec", "op", "value", "problem"),
    [
        (None, "eq", 1, "unknown attribute 'x'"),
        (NOTE, "eq", "a", "is free text"),
        (AGE, "like", 1, "unknown operator 'like'"),
        (AGE, "exists", 1, "takes no value"),
        (REGION, "gt", "CN-11", "needs a numeric attribute"),
        (REGION, "in", [], "needs a non-empty list"),
        (REGION, "in", [1], "are not string"),
        (REGION, "in", ["CN-99"], "are not declared values"),
        (REGION, "between", [1, 2], "needs a numeric attribute"),
        (AGE, "between", [1], "needs [low, high)"),
        (AGE, "between", [5, 5], "low < high"),
        (AGE, "eq", "thirty", "is not int"),
        (REGION, "eq", "CN-99", "is not a declared value"),
    ],
)
def test_invalid_conditions_say_why(spec: TagSpec | None, op: str, value: object, problem: str) -> None:
    found = check_condition(spec, "x" if spec is None else spec.name, op, value)
    assert found is not None and problem in found
