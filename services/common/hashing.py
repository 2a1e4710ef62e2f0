"""Stable hashing for bucketing (rollout shares, holdouts): the same inputs land in the same bucket
on every replica and after every restart, unlike Python's salted hash()."""

from __future__ import annotations

import hashlib


def stable_unit(*parts: str) -> float:
    """Map the parts to a float in [0, 1), uniformly and deterministically."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
