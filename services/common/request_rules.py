"""What a well-formed request is, for every method of every service, decided in one place.

Every request is checked against its message descriptor before any handler runs (services/common/edge.py
applies it): timestamps and durations in range, enums known, repeated fields and maps under a count,
and every string of a declared format — its characters, its length, and whether a personal number may
appear in it (personal_data.py). The formats:

- OPAQUE   client- or server-issued identifiers (idempotency keys, hashed customer refs, order ids,
           ids this suite issued): printable ASCII without spaces, ≤ 128. They are arbitrary, so
           only a value that as a whole is a mobile, ID or card number is refused.
- PAGE TOKEN next-page tokens this suite issued: printable ASCII without spaces, ≤ 1024 (a position of
           several ids); what one decodes to is checked by the method that issued it.
- CODE     the default: names of things from config or closed sets (channel, scene, partner,
           level, tag keys …): printable ASCII without spaces, ≤ 128, no personal number inside.
- NOTE     short operator or partner notes (reason, operator): printable ASCII with spaces, ≤ 512,
           no personal number inside.
- TEXT     values that may hold any script (router tag values, activity attributes): printable
           Unicode, no control or format characters, ≤ 256, no personal number inside; whether a
           name may be there is the owning service's typing (the router's tag declarations).
- DOCUMENT whole config files sent by ops (config_yaml, Admin.ValidateConfig): ≤ 1 MiB, no NUL or
           control characters other than tab and newlines; their content is checked by the config
           schema.

Messages never echo what the caller sent beyond a short prefix of a map key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from services.common import personal_data
from services.common.errors import FieldViolation, Violations

MAX_REPEATED = 256
MAX_FEN = 10**12  # ¥10 billion: one amount far beyond any payment, far below what a running sum can hold
MAX_INT64 = 10**15  # any other 64-bit count: sums of many stay inside a 64-bit column
TIMESTAMP_MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z
TIMESTAMP_MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z
DURATION_MAX_SECONDS = 315_576_000_000  # 10,000 years, protobuf's own bound
NANOS_PER_SECOND = 1_000_000_000

_ASCII_TOKEN = re.compile(r"[\x21-\x7e]*")
_ASCII_LINE = re.compile(r"[\x20-\x7e]*")
_DOCUMENT_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class StringFormat:
    name: str
    max_length: int
    allowed: Callable[[str], bool]
    characters: str  # said in the violation
    personal_numbers: Callable[[str], str | None] | None  # None: not looked for


def _ascii_token(s: str) -> bool:
    return _ASCII_TOKEN.fullmatch(s) is not None


def is_ascii_token(s: str, max_length: int = 128) -> bool:
    """Printable ASCII without spaces, 1 to max_length characters: what an opaque id or a code may be (for
    values that arrive inside a page token rather than as a field of their own)."""
    return 0 < len(s) <= max_length and _ascii_token(s)


_TOKEN_CHARACTERS = "printable ASCII without spaces"
OPAQUE = StringFormat("opaque", 128, _ascii_token, _TOKEN_CHARACTERS, personal_data.is_whole)
CODE = StringFormat("code", 128, _ascii_token, _TOKEN_CHARACTERS, personal_data.in_text)
# Page tokens are issued by the services themselves and may carry a position of several opaque ids (a
# customer ref, a trigger, a time): longer than one id, still checked like one.
PAGE_TOKEN = StringFormat("page token", 1024, _ascii_token, _TOKEN_CHARACTERS, personal_data.is_whole)
NOTE = StringFormat(
    "note", 512, lambda s: _ASCII_LINE.fullmatch(s) is not None, "printable ASCII", personal_data.in_text
)
TEXT = StringFormat("text", 256, str.isprintable, "printable characters", personal_data.in_text)
DOCUMENT = StringFormat(
    "document", 256 << 10, lambda s: _DOCUMENT_BAD.search(s) is None, "text without control characters", None
)

# Field name → format, for any message; (message full name, field name) overrides it.
_BY_FIELD_NAME: dict[str, StringFormat] = {
    **dict.fromkeys(
        (
            "phone_hash",
            "device_ref",
            "order_id",
            "voucher_code",
            "decision_id",
            "lead_id",
            "delivery_id",
            "hold_id",
            "redemption_id",
            "transaction_id",
            "coupon_id",
            "offer_id",
            "ping_id",
        ),
        OPAQUE,
    ),
    "page_token": PAGE_TOKEN,
    "reason": NOTE,
    "operator": NOTE,
    "config_yaml": DOCUMENT,
}
_BY_MESSAGE_FIELD: dict[tuple[str, str], StringFormat] = {
    ("skylane.common.v1.IdempotencyKey", "value"): OPAQUE,
    ("skylane.common.v1.CustomerRef", "ref"): OPAQUE,
    ("skylane.growth.v1.Activity", "id"): OPAQUE,  # the source system's own event id
    ("skylane.common.v1.ValidateConfigRequest", "yaml"): DOCUMENT,
    ("skylane.router.v1.TagValue", "string_value"): TEXT,
    ("skylane.growth.v1.Activity.AttributesEntry", "value"): TEXT,
    ("skylane.common.v1.OutsideEvent.AttributesEntry", "value"): TEXT,  # an outside event's attributes
}

OPAQUE_FIELDS = sorted(
    [*(n for n, f in _BY_FIELD_NAME.items() if f is OPAQUE), "IdempotencyKey.value", "CustomerRef.ref", "Activity.id"]
)


def string_format(field: FieldDescriptor) -> StringFormat:
    owner = field.containing_type.full_name if field.containing_type is not None else ""
    return _BY_MESSAGE_FIELD.get((owner, field.name)) or _BY_FIELD_NAME.get(field.name, CODE)


Check = Callable[[Any, str, Violations], None]


def check_request(message: Any) -> None:
    """Raises InvalidArgument listing every malformed field of message (raw bytes have no fields)."""
    if isinstance(message, bytes):
        return
    violations = Violations()
    _message_check(message.DESCRIPTOR)(message, "", violations)
    violations.raise_if_any()


_MESSAGE_CHECKS: dict[str, Check] = {}


def _message_check(descriptor: Descriptor) -> Check:
    cached = _MESSAGE_CHECKS.get(descriptor.full_name)
    if cached is not None:
        return cached
    special = _WELL_KNOWN.get(descriptor.full_name)
    if special is not None:
        _MESSAGE_CHECKS[descriptor.full_name] = special
        return special
    field_checks: dict[int, Check] = {}

    def check(message: Any, path: str, v: Violations) -> None:
        # ListFields visits only the fields that are set, so an empty optional part costs nothing.
        for field, value in message.ListFields():
            field_checks[field.number](value, f"{path}{field.name}", v)

    _MESSAGE_CHECKS[descriptor.full_name] = check  # before the fields: a message may contain itself
    for field in descriptor.fields:
        field_checks[field.number] = _field_check(field)
    return check


def _field_check(field: FieldDescriptor) -> Check:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return _map_check(field)
    single = _single_check(field)
    if single is None:
        return _count_only if field.is_repeated else _nothing
    if not field.is_repeated:
        return single

    def repeated(values: Any, path: str, v: Violations) -> None:
        if len(values) > MAX_REPEATED:
            v.add(path, f"at most {MAX_REPEATED} items")
            return
        for index, value in enumerate(values):
            single(value, f"{path}[{index}]", v)

    return repeated


def _nothing(_: Any, __: str, ___: Violations) -> None:
    return None


def _count_only(values: Any, path: str, v: Violations) -> None:
    if len(values) > MAX_REPEATED:
        v.add(path, f"at most {MAX_REPEATED} items")


def _single_check(field: FieldDescriptor) -> Check | None:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _nested_check(field.message_type)
    if field.type == FieldDescriptor.TYPE_STRING:
        return _string_check(string_format(field))
    if field.type == FieldDescriptor.TYPE_BYTES:
        return _bytes_check
    if field.type in _INT64_TYPES:
        return _int64_check
    if field.type == FieldDescriptor.TYPE_ENUM:
        return _enum_check(frozenset(field.enum_type.values_by_number), field.enum_type.name)
    return None


def _nested_check(nested: Descriptor) -> Check:
    """A message field's check: its message's check, looked up on first use (a message may contain itself,
    so it cannot be resolved while the containing message's checks are being built)."""
    resolved: list[Check] = []

    def check(value: Any, path: str, v: Violations) -> None:
        if not resolved:
            resolved.append(_message_check(nested))
        resolved[0](value, f"{path}.", v)

    return check


def _map_check(field: FieldDescriptor) -> Check:
    entry = field.message_type
    key_check = _single_check(entry.fields_by_name["key"])
    value_check = _single_check(entry.fields_by_name["value"])

    def check(mapping: Any, path: str, v: Violations) -> None:
        if len(mapping) > MAX_REPEATED:
            v.add(path, f"at most {MAX_REPEATED} entries")
            return
        for key, value in mapping.items():
            # Checked with paths relative to the entry; its label (a regex and a personal-number scan of the
            # key) is made only for an entry that has a violation.
            found = len(v.items)
            if key_check is not None:
                key_check(key, ".key", v)
            if value_check is not None:
                value_check(value, "", v)
            if len(v.items) > found:
                entry_path = f"{path}[{_key_label(key)}]"
                relative = v.items[found:]
                v.items[found:] = [FieldViolation(entry_path + item.field, item.description) for item in relative]

    return check


def _key_label(key: Any) -> str:
    text = str(key)
    if _ASCII_TOKEN.fullmatch(text) and len(text) <= 32 and personal_data.in_text(text) is None:
        return text
    return "…"


def _string_check(fmt: StringFormat) -> Check:
    def check(value: str, path: str, v: Violations) -> None:
        if len(value) > fmt.max_length:
            v.add(path, f"at most {fmt.max_length} characters")
        elif not fmt.allowed(value):
            v.add(path, f"must be {fmt.characters}")
        elif fmt.personal_numbers is not None:
            found = fmt.personal_numbers(value)
            if found is not None:
                v.add(path, f"holds what looks like {found}; personal data is refused here")

    return check


def _bytes_check(value: bytes, path: str, v: Violations) -> None:
    if len(value) > 1 << 20:
        v.add(path, "at most 1 MiB")


_INT64_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_SFIXED64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_FIXED64,
    }
)


def _int64_check(value: int, path: str, v: Violations) -> None:
    if not -MAX_INT64 <= value <= MAX_INT64:
        v.add(path, f"must be within ±{MAX_INT64:.0e}")


def _money_check(value: Any, path: str, v: Violations) -> None:
    if not -MAX_FEN <= value.fen <= MAX_FEN:
        v.add(f"{path}fen", f"must be within ±{MAX_FEN:,} fen")


def _enum_check(known: frozenset[int], enum_name: str) -> Check:
    def check(value: int, path: str, v: Violations) -> None:
        if value not in known:
            v.add(path, f"unknown {enum_name} value {value}")

    return check


def _timestamp_check(value: Any, path: str, v: Violations) -> None:
    if not TIMESTAMP_MIN_SECONDS <= value.seconds <= TIMESTAMP_MAX_SECONDS:
        v.add(f"{path}seconds", "must be within years 0001-9999")
    if not 0 <= value.nanos < NANOS_PER_SECOND:
        v.add(f"{path}nanos", "must be 0 to 999,999,999")


def _duration_check(value: Any, path: str, v: Violations) -> None:
    if not -DURATION_MAX_SECONDS <= value.seconds <= DURATION_MAX_SECONDS:
        v.add(f"{path}seconds", "must be within ±10,000 years")
    if not -NANOS_PER_SECOND < value.nanos < NANOS_PER_SECOND or value.seconds * value.nanos < 0:
        v.add(f"{path}nanos", "must be below one second and of the same sign as seconds")


_WELL_KNOWN: dict[str, Check] = {
    "google.protobuf.Timestamp": _timestamp_check,
    "google.protobuf.Duration": _duration_check,
    "skylane.common.v1.Money": _money_check,
}
