"""Voucher codes: read aloud over the phone, so the alphabet leaves out look-alikes (0/O, 1/I/L)."""

from __future__ import annotations

from collections.abc import Callable

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PREFIX = "SKY-"
LENGTH = 12


def voucher_code(pick: Callable[[str], str]) -> str:
    """A new code; `pick` chooses one character of the alphabet (secrets.choice in production)."""
    return PREFIX + "".join(pick(ALPHABET) for _ in range(LENGTH))
