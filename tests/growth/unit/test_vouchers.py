"""Voucher codes: a fixed prefix and twelve characters of an alphabet without look-alikes."""

from __future__ import annotations

import secrets

from services.growth.domain.vouchers import ALPHABET, voucher_code


def test_the_code_is_built_from_what_the_picker_chooses() -> None:
    picks = iter("23456789ABCD")
    assert voucher_code(lambda alphabet: next(picks)) == "SKY-23456789ABCD"


def test_codes_never_contain_look_alike_characters() -> None:
    assert not set("01OIL") & set(ALPHABET)
    code = voucher_code(secrets.choice)
    assert code.startswith("SKY-") and len(code) == 16 and set(code[4:]) <= set(ALPHABET)
