"""No YAML boolean taken for a number, in any file the config loader reads (service configs, scenarios).

YAML reads `true`, `false`, `yes`, `no`, `on` and `off` as booleans, and pydantic's lax mode takes a boolean
where a number is expected as 1 or 0, so `bid_fen: true` would run as a bid of 1 fen and `per_day: yes` as a
cap of one. Rather than mark every numeric field of every schema (rates given per tier or for all, maps of
prices, nested policies), the document is walked along the schema's types before it is validated: a
boolean where the field holds a number (and no boolean) is refused with its path, the way the loader
refuses every other bad value ("field.path: reason"). A whole number where a float is expected stays a
number.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

NUMBERS = (int, float, Decimal)


def booleans_for_numbers(value: Any, annotation: Any, path: tuple[str, ...] = ()) -> list[str]:
    """One problem per true/false of the document that stands where the annotation expects a number."""
    if isinstance(value, bool):
        if not _wants_number(annotation):
            return []
        return [f"{'.'.join(path) or '(top level)'}: expected a number, got {str(value).lower()}"]
    if isinstance(value, dict):
        return _in_mapping(value, annotation, path)
    if isinstance(value, list):
        return _in_list(value, annotation, path)
    return []


def _members(annotation: Any) -> list[Any]:
    """The types a value may have: Annotated unwrapped, a union (or Optional) flattened, None left out."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _members(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return [member for arg in get_args(annotation) for member in _members(arg)]
    return [] if annotation is type(None) else [annotation]


def _takes_bool(member: Any) -> bool:
    if get_origin(member) is Literal:
        return any(isinstance(arg, bool) for arg in get_args(member))
    return member in (bool, Any, object)


def _wants_number(annotation: Any) -> bool:
    members = _members(annotation)
    number = any(isinstance(m, type) and issubclass(m, NUMBERS) and m is not bool for m in members)
    return number and not any(_takes_bool(m) for m in members)


def _is_model(member: Any) -> bool:
    return isinstance(member, type) and issubclass(member, BaseModel)


def _only(members: list[Any], kinds: tuple[type, ...], models: bool) -> Any:
    """The one member that is a generic of `kinds` (or a model, where models count); None when there is
    none or more than one (a value the walk cannot place is left to the loader)."""
    found = [m for m in members if (models and _is_model(m)) or (get_origin(m) or m) in kinds]
    return found[0] if len(found) == 1 else None


def _in_mapping(value: dict[Any, Any], annotation: Any, path: tuple[str, ...]) -> list[str]:
    target = _only(_members(annotation), (dict, Mapping), models=True)
    if target is None:
        return []
    if _is_model(target):
        fields = target.model_fields
        return [
            problem
            for key, item in value.items()
            if key in fields
            for problem in booleans_for_numbers(item, fields[key].annotation, (*path, str(key)))
        ]
    args = get_args(target)
    if len(args) != 2:
        return []
    return [
        problem for key, item in value.items() for problem in booleans_for_numbers(item, args[1], (*path, str(key)))
    ]


def _in_list(value: list[Any], annotation: Any, path: tuple[str, ...]) -> list[str]:
    target = _only(_members(annotation), (list, tuple, set, frozenset, Sequence), models=False)
    args = get_args(target) if target is not None else ()
    if not args:
        return []
    if get_origin(target) is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        pairs = list(zip(value, args, strict=False))  # a fixed-length tuple: one type per place
    else:
        pairs = [(item, args[0]) for item in value]
    return [
        problem
        for index, (item, item_type) in enumerate(pairs)
        for problem in booleans_for_numbers(item, item_type, (*path, str(index)))
    ]
