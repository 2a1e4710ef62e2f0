"""Recognises the personal numbers that must never enter a field not made for them.

A mainland mobile number, an 18-character resident ID number (its check digit verified, ISO 7064
MOD 11-2) and a payment card number (13-19 digits passing the Luhn check) are refused wherever they
appear, so they can never be stored, logged or forwarded. Names cannot be recognised by pattern; they
are kept out by typing instead (request_rules.py: a field that is not declared free text takes only
its declared character set).

Two ways to look: `in_text` scans every run of digits inside a value (digits may be grouped by single
spaces or dashes, as people write card and phone numbers); `is_whole` looks at the value as a whole,
for opaque identifiers (idempotency keys, hashed references, order ids) whose inner digit runs are
arbitrary — a hash must not be refused because 13 of its characters happen to pass the Luhn check.
"""

from __future__ import annotations

import re

_DIGIT_RUN = re.compile(r"\+?\d(?:[ -]?\d)*(?:[ -]?[Xx])?")
_SEPARATORS = str.maketrans("", "", " -+")
_GROUP_SEPARATOR = re.compile(r"[ -]")
_DIGIT = re.compile(r"\d")
FEWEST_DIGITS = 11  # a mobile number; ID and card numbers have more
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

# Field names that hold a person's name (masked in logs, refused as event attributes); a merchant's or a
# product's name is no person's.
PERSON_NAME_KEYS = frozenset(
    {"name", "full_name", "first_name", "last_name", "customer_name", "applicant_name", "real_name", "holder_name"}
)
# Field names that hold a person's contact or number, beside the names.
_CONTACT_KEYS = frozenset(
    {"email", "phone", "mobile", "phone_number", "mobile_number", "id_number", "id_card", "card_number"}
    | {"passport_number"}
)
_CONTACT_SUFFIXES = ("_email", "_phone", "_mobile")

MOBILE = "a mobile number"
ID_NUMBER = "an ID number"
CARD_NUMBER = "a card number"


def is_mobile(digits: str) -> bool:
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return len(digits) == 11 and digits[0] == "1" and digits[1] in "3456789"


def is_id_number(value: str) -> bool:
    """18 characters: a region code, a birth date (YYYYMMDD), a sequence number and a check character
    (digit or X) that matches MOD 11-2."""
    if len(value) != 18 or not value[:17].isdigit() or value[0] == "0" or not _is_birth_date(value[6:14]):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[17].upper()


def _is_birth_date(text: str) -> bool:
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:])
    return 1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31


# Issuer prefixes and lengths of the cards a Chinese bank sees: UnionPay, Visa, Mastercard, JCB, Amex.
_CARD_ISSUERS = re.compile(r"62\d{14,17}|4\d{15}|5[1-5]\d{14}|2[2-7]\d{14}|35\d{14}|3[47]\d{13}")


def is_issued_card_number(digits: str) -> bool:
    """A Luhn-valid number with a card issuer's prefix and length: what an opaque id is checked for,
    since any 13-19 digit id passes the Luhn check one time in ten."""
    return _CARD_ISSUERS.fullmatch(digits) is not None and is_card_number(digits)


def is_card_number(digits: str) -> bool:
    if not (13 <= len(digits) <= 19 and digits.isdigit()):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char)
        if position % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def kind_of(candidate: str) -> str | None:
    """What personal number `candidate` (separators removed) is, or None."""
    if is_id_number(candidate):
        return ID_NUMBER
    if not candidate.isdigit():
        return None
    if is_mobile(candidate):
        return MOBILE
    if is_card_number(candidate):
        return CARD_NUMBER
    return None


def in_text(text: str) -> str | None:
    """The kind of the first personal number found anywhere in text, or None."""
    # Every string of every request passes here: most are too short to hold a number, the rest get one C-level
    # scan before any parsing.
    if len(text) < FEWEST_DIGITS or len(_DIGIT.findall(text)) < FEWEST_DIGITS:
        return None
    for match in _DIGIT_RUN.finditer(text):
        found = _in_run(_GROUP_SEPARATOR.split(match.group().lstrip("+")))
        if found is not None:
            return found
    return None


def _in_run(groups: list[str]) -> str | None:
    """Any contiguous span of the run's groups: "138 1234 5678" is one number, "13812345678 1101…" two."""
    for start in range(len(groups)):
        candidate = ""
        for group in groups[start:]:
            candidate += group
            if len(candidate) > 19:
                break
            found = kind_of(candidate)
            if found is not None:
                return found
    return None


def is_whole(value: str) -> str | None:
    """The kind of personal number the whole value is (separators ignored), or None. Numeric ids
    (snowflake ids, order numbers) are common, so a card number counts only with an issuer's prefix."""
    if not value or value[0] not in "+0123456789":
        return None
    candidate = value.translate(_SEPARATORS)
    found = kind_of(candidate)
    if found == CARD_NUMBER and not is_issued_card_number(candidate):
        return None
    return found


def names_personal_data(key: str) -> bool:
    """Whether a field's name says it holds a person's name, contact or number (`customer_name`, `email`,
    `work_phone` …): such a field is never forwarded, whatever its value looks like."""
    return key in PERSON_NAME_KEYS or key in _CONTACT_KEYS or key.endswith(_CONTACT_SUFFIXES)
