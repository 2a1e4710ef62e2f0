"""Unit tests of the personal-number recognisers (no server, no database)."""

from __future__ import annotations

import pytest

from services.common import personal_data as pd

VALID_ID = "110101199003074514"  # check digit 4 is right for these 17 digits
VALID_ID_X = "11010119900307651X"  # X is the check character here
CARD = "6222021234567890128"  # 19 digits, Luhn-valid


def test_id_number_check_digit_is_verified() -> None:
    assert pd.is_id_number(VALID_ID)
    assert pd.is_id_number(VALID_ID_X)
    assert pd.is_id_number(VALID_ID_X.lower())
    wrong = VALID_ID[:17] + str((int(VALID_ID[17]) + 1) % 10)
    assert not pd.is_id_number(wrong)


def test_luhn() -> None:
    assert pd.is_card_number(CARD)
    assert pd.is_card_number("4111111111111111")
    assert not pd.is_card_number("4111111111111112")
    assert not pd.is_card_number("411111111111")  # 12 digits: too short for a card


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("call 13812345678 now", pd.MOBILE),
        ("+86 138 1234 5678", pd.MOBILE),
        ("138-1234-5678", pd.MOBILE),
        (f"id:{VALID_ID}", pd.ID_NUMBER),
        ("card 4111 1111 1111 1111", pd.CARD_NUMBER),
        (f"张三 13812345678 {VALID_ID}", pd.MOBILE),
        ("12812345678", None),  # no mainland mobile starts 12
        ("order 2026-11-26 #42", None),
        ("4111111111111112", None),
        ("", None),
    ],
)
def test_in_text(text: str, kind: str | None) -> None:
    assert pd.in_text(text) == kind


def test_whole_value_ignores_digit_runs_inside_opaque_ids() -> None:
    assert pd.is_whole("13812345678") == pd.MOBILE
    assert pd.is_whole(VALID_ID) == pd.ID_NUMBER
    assert pd.is_whole(CARD) == pd.CARD_NUMBER
    assert pd.is_whole("ev-13812345678") is None
    assert pd.is_whole("a4111111111111111") is None


def test_numeric_ids_are_not_taken_for_personal_numbers() -> None:
    # One numeric id in ten passes the Luhn check, and one in eleven the ID check digit: an opaque
    # id is refused only for a card issuer's prefix and length, or an ID number with a birth date.
    luhn_valid_ids = [n for n in (str(10**17 + i) for i in range(200)) if pd.is_card_number(n)]
    assert luhn_valid_ids and all(pd.is_whole(n) is None for n in luhn_valid_ids)
    assert pd.is_whole("4111111111111111") == pd.CARD_NUMBER
    assert not pd.is_id_number("123456000000000000"[:17] + "0")  # month 00 is no birth date
