"""The small, declared set of condition operators and their evaluation.

A condition on a missing attribute is false (except `missing`), never an error; a condition whose
operator or value does not fit the attribute's type (or a categorical attribute's declared values) is
refused when the config loads, and so is any condition on a free-text attribute: free text never decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.router.domain.tags import TagScalar, TagSpec, type_matches

ORDERED_OPS = frozenset({"lt", "le", "gt", "ge"})
OPERATORS = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "between", "exists", "missing"})


def check_condition(spec: TagSpec | None, attribute: str, op: str, value: Any) -> str | None:
    """Returns why a condition is invalid, or None when it is fine."""
    if spec is None:
        return f"unknown attribute {attribute!r}"
    if spec.kind == "free_text":
        return f"{attribute!r} is free text, which is never stored and cannot be used in conditions"
    if op not in OPERATORS:
        return f"unknown operator {op!r} (allowed: {', '.join(sorted(OPERATORS))})"
    if op in ("exists", "missing"):
        return None if value is None else f"operator {op!r} takes no value"
    if op in ORDERED_OPS and spec.type not in ("int", "number"):
        return f"operator {op!r} needs a numeric attribute; {attribute!r} is {spec.type}"
    if op in ("in", "not_in"):
        return _list_problem(spec, attribute, op, value)
    if op == "between":
        return _between_problem(spec, attribute, value)
    if not type_matches(spec.type, value):
        return f"value {value!r} is not {spec.type}"
    if not spec.accepts(value):
        return f"value {value!r} is not a declared value of {attribute!r}"
    return None


def _list_problem(spec: TagSpec, attribute: str, op: str, value: Any) -> str | None:
    if not isinstance(value, list) or not value:
        return f"operator {op!r} needs a non-empty list"
    bad = [v for v in value if not type_matches(spec.type, v)]
    if bad:
        return f"values {bad!r} are not {spec.type}"
    undeclared = [v for v in value if not spec.accepts(v)]
    return f"values {undeclared!r} are not declared values of {attribute!r}" if undeclared else None


def _between_problem(spec: TagSpec, attribute: str, value: Any) -> str | None:
    if spec.type not in ("int", "number"):
        return f"operator 'between' needs a numeric attribute; {attribute!r} is {spec.type}"
    if not (isinstance(value, list) and len(value) == 2 and all(type_matches("number", v) for v in value)):
        return "operator 'between' needs [low, high)"
    if not value[0] < value[1]:
        return f"'between' bounds must satisfy low < high, got {value!r}"
    return None


def holds(attributes: Mapping[str, TagScalar], attribute: str, op: str, value: Any) -> bool:
    present = attribute in attributes
    if op == "exists":
        return present
    if op == "missing":
        return not present
    if not present:
        return False
    actual: Any = attributes[attribute]
    match op:
        case "eq":
            return bool(actual == value)
        case "ne":
            return bool(actual != value)
        case "lt":
            return bool(actual < value)
        case "le":
            return bool(actual <= value)
        case "gt":
            return bool(actual > value)
        case "ge":
            return bool(actual >= value)
        case "in":
            return actual in value
        case "not_in":
            return actual not in value
        case "between":
            return bool(value[0] <= actual < value[1])
    raise ValueError(f"unknown operator {op!r}")
