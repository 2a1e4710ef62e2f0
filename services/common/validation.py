"""Input checks that several services share."""

from __future__ import annotations

import re

from services.common.errors import Violations
from skylane.common.v1 import types_pb2

_PRINTABLE_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")
_LOOKS_LIKE_ID_NUMBER = re.compile(r"^\d{17}[\dXx]$")
_LOOKS_LIKE_PHONE = re.compile(r"^(?:\+?86)?1[3-9]\d{9}$")
_CUSTOMER_REF = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")


def check_idempotency_key(v: Violations, key: types_pb2.IdempotencyKey, path: str = "idempotency_key") -> None:
    if not key.value:
        v.add(f"{path}.value", "required for this mutating call")
    elif not _PRINTABLE_KEY.match(key.value):
        v.add(f"{path}.value", "must be 1-128 printable ASCII characters")


def check_customer_ref(v: Violations, ref: str, path: str) -> None:
    """A customer reference must be an opaque hash, never a raw ID number or phone number."""
    if not ref:
        v.add(path, "required")
    elif _LOOKS_LIKE_ID_NUMBER.match(ref) or _LOOKS_LIKE_PHONE.match(ref):
        v.add(path, "must be a hashed reference; raw ID numbers and phone numbers are refused")
    elif not _CUSTOMER_REF.match(ref):
        v.add(path, "must be 8-128 characters of letters, digits, '_', '.', ':' or '-'")


def page_size(requested: int, default: int = 50, maximum: int = 500) -> int:
    if requested <= 0:
        return default
    return min(requested, maximum)
