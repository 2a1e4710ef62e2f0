"""The tag catalogue: which profile attributes exist, their types and ranges.

Conditions in the config may only name attributes from this catalogue (plus `extra_tags` declared in
the config), so a typo is refused at load instead of silently never matching.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TagType = Literal["int", "number", "string", "bool"]

# Values a condition or a tag may hold once decoded from the wire.
TagScalar = int | float | str | bool


@dataclass(frozen=True)
class TagSpec:
    name: str
    type: TagType
    minimum: float | None = None
    maximum: float | None = None
    # Derived tags come from typed request fields, not from the `tags` map.
    derived: bool = False


BUILTIN_TAGS: dict[str, TagSpec] = {
    spec.name: spec
    for spec in (
        TagSpec("age", "int", 0, 120),
        TagSpec("region", "string"),
        TagSpec("income_band", "string"),
        TagSpec("asset_tier", "string"),
        TagSpec("external_credit_score", "int", 0, 1000),
        TagSpec("travel_frequency", "int", 0, 10_000),
        TagSpec("existing_customer", "bool"),
        TagSpec("has_credit_card", "bool"),
        TagSpec("payroll_customer", "bool"),
        TagSpec("requested_amount_fen", "int", 0, None, derived=True),
        TagSpec("term_months", "int", 0, None, derived=True),
        TagSpec("channel", "string", derived=True),
        TagSpec("scenario", "string", derived=True),
    )
}


def catalogue(extra: dict[str, TagType]) -> dict[str, TagSpec]:
    """Built-in tags plus the config's extra CDP tags."""
    merged = dict(BUILTIN_TAGS)
    for name, kind in extra.items():
        merged[name] = TagSpec(name, kind)
    return merged


def type_matches(kind: TagType, value: object) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)
