"""The tag catalogue: which profile attributes RouteApplicant accepts, how each is typed, and what it may hold.

Every profile tag is declared in config/router.yaml (`tags:`) with a kind:

- categorical: a code from a declared list (and/or a declared format), e.g. region as a GB/T 2260 code;
- number: an integer or decimal within a declared range;
- boolean;
- free_text: any text up to a declared length. Free text is checked and then dropped: it never reaches
  the policy, the recorded decision inputs, a lead or a partner (see services/router/validation.py).

A categorical value must also look like a code (ASCII letters, digits, `_ . : -`, at most 64 characters),
whatever its declaration says, so a name or an address cannot pass for a category. Personal data is kept
out by typing, not by recognising it: a non-free-text tag refuses anything outside its declared set.

Conditions in the config may only name catalogue attributes (a typo is refused at load instead of
silently never matching), and never a free-text one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# The value's type once decoded from the wire (what conditions compare against).
TagType = Literal["int", "number", "string", "bool"]
# How the config declares the tag.
TagKind = Literal["categorical", "number", "boolean", "free_text"]

# Values a condition or a tag may hold once decoded from the wire.
TagScalar = int | float | str | bool

# The shape of every categorical value, declared or received.
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


@dataclass(frozen=True)
class TagSpec:
    name: str
    type: TagType
    minimum: float | None = None
    maximum: float | None = None
    # Derived tags come from typed request fields, not from the `tags` map.
    derived: bool = False
    kind: TagKind = "categorical"
    # Categorical: the declared codes; when empty, any value of `pattern` (and of the code shape).
    values: frozenset[str] = frozenset()
    pattern: re.Pattern[str] | None = None
    # Free text: the longest value accepted.
    max_length: int = 0

    def refusal(self, value: TagScalar) -> str | None:
        """Why a decoded value of the right wire type is refused, or None. Never quotes the value: it may be
        exactly the personal data being refused."""
        if self.kind == "categorical":
            return None if self.accepts(value) else f"not one of the declared values of {self.name!r}"
        if self.kind == "free_text":
            too_long = isinstance(value, str) and len(value) > self.max_length
            return f"at most {self.max_length} characters" if too_long else None
        if self.kind == "number" and not self.in_range(value):
            low = self.minimum if self.minimum is not None else float("-inf")
            high = self.maximum if self.maximum is not None else float("inf")
            return f"must be between {low:g} and {high:g}"
        return None

    def accepts(self, value: object) -> bool:
        """A categorical value inside the declared set (or format); other kinds: the right type."""
        if self.kind != "categorical":
            return type_matches(self.type, value)
        if not isinstance(value, str) or not CODE.fullmatch(value):
            return False
        if self.values:
            return value in self.values
        return self.pattern is None or self.pattern.fullmatch(value) is not None

    def in_range(self, value: object) -> bool:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        low = self.minimum if self.minimum is not None else float("-inf")
        high = self.maximum if self.maximum is not None else float("inf")
        return low <= value <= high


# Tags taken from typed request fields. Their values are checked by the request's own rules (configured
# channels and scenarios, non-negative amount, term range), so the specs only type them for conditions.
DERIVED_TAGS: dict[str, TagSpec] = {
    spec.name: spec
    for spec in (
        TagSpec("requested_amount_fen", "int", 0, None, derived=True, kind="number"),
        TagSpec("term_months", "int", 0, None, derived=True, kind="number"),
        TagSpec("channel", "string", derived=True),
        TagSpec("scenario", "string", derived=True),
    )
}


def catalogue(declared: Mapping[str, TagSpec]) -> dict[str, TagSpec]:
    """The config's declared tags plus the derived ones (a declaration cannot shadow a derived tag)."""
    return {**declared, **DERIVED_TAGS}


def type_matches(kind: TagType, value: object) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)
