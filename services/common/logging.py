"""structlog JSON logging with personal data masked wherever it appears in an event.

Every line a service logs names it in a `service` field: the server binds it into structlog's context
for start-up, shutdown, config reloads and each of the service's background tasks (`service_context`), and
the edge binds it for each call. `skylane serve all` runs three services in one process, so the field
comes from the context of the task that logs, never from a process-wide setting.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

from services.common.call_context import call_log_var
from services.common.personal_data import PERSON_NAME_KEYS, is_card_number

# Mainland mobile numbers: 11 digits starting 13-19, optionally prefixed +86/86.
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")
# Resident ID numbers: 17 digits and a digit or X check character.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
# Payment card numbers: 13-19 digits, masked when they pass the Luhn check.
_CARD = re.compile(r"(?<![0-9])\d{13,19}(?![0-9])")
# Bearer tokens inside free text, e.g. an echoed authorization header.
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")

_SECRET_KEYS = frozenset(
    {"token", "password", "secret", "authorization", "api_key", "credentials", "credential", "access_token"}
)
MASK = "***"


# Every pattern above needs 11 digits in a row or the word bearer: a text with neither is returned as it is,
# after one search instead of four substitutions (most of a log line's fields are such texts).
_MAYBE_PERSONAL = re.compile(r"\d{11}|(?i:bearer)")


def mask_text(text: str) -> str:
    if _MAYBE_PERSONAL.search(text) is None:
        return text
    text = _ID_NUMBER.sub(lambda m: m.group()[:3] + "*" * 11 + m.group()[-4:-3] + "***", text)
    text = _PHONE.sub(lambda m: m.group()[:-8] + "****" + m.group()[-4:], text)
    text = _CARD.sub(
        lambda m: (
            m.group()[:4] + "*" * (len(m.group()) - 8) + m.group()[-4:] if is_card_number(m.group()) else m.group()
        ),
        text,
    )
    return _BEARER.sub("Bearer " + MASK, text)


# A rendered traceback frame's `name` is a function's name, not a person's.
_FRAME_FIELDS = frozenset({"filename", "lineno", "name", "line"})


def mask_value(key: str | None, value: Any) -> Any:
    lowered = key.lower() if isinstance(key, str) else ""
    if lowered == "frames" and isinstance(value, list):
        return [_mask_frame(frame) for frame in value]
    if lowered in PERSON_NAME_KEYS or lowered in _SECRET_KEYS or lowered.endswith(("_token", "_secret", "_password")):
        return MASK if value not in (None, "") else value
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {k: mask_value(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask_value(None, v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and value > 10**10:
        return mask_text(str(value))
    return value


def mask_personal_data(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: masks phones, ID numbers, names and secrets in every field, nested or not."""
    for key in list(event_dict):
        event_dict[key] = mask_value(key if key != "event" else None, event_dict[key])
    return event_dict


@contextlib.contextmanager
def service_context(service: str) -> Iterator[None]:
    """Lines logged inside the block, and by tasks created inside it, carry `service`; the previous value
    (another service's, or none) is back afterwards."""
    tokens = structlog.contextvars.bind_contextvars(service=service)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


def add_call_context(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
    """structlog processor: the request id, method and service of the gRPC call being handled (set by the
    request edge in `call_log_var`), unless the line names them itself."""
    call = call_log_var.get()
    if call is not None:
        event_dict.setdefault("request_id", call[0])
        event_dict.setdefault("method", call[1])
        event_dict.setdefault("service", call[2])
    return event_dict


def _mask_frame(frame: Any) -> Any:
    if not isinstance(frame, Mapping):
        return mask_value(None, frame)
    return {k: v if k in _FRAME_FIELDS else mask_value(k, v) for k, v in frame.items()}


_TRACEBACKS = structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))


def configure_logging(level: str = "info", stream: Any = None, *, cache: bool | None = None) -> None:
    """JSON lines to stream (stdout). With cache, each logger is built once on first use (structlog's
    performance advice) and keeps this configuration for good; SKYLANE_LOG_CACHE=0 (the test suite)
    turns that off by default, so a later reconfiguration still reaches every logger."""
    if cache is None:
        cache = os.environ.get("SKYLANE_LOG_CACHE", "1") != "0"
    structlog.configure(
        processors=[
            add_call_context,  # before the bound context: a call's service wins over the task's
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # Tracebacks as dicts, without the frames' local variables: those hold requests, configs and
            # secrets (a partner's postback token, a customer's name) that no pattern can be trusted to mask.
            _TRACEBACKS,
            # Masking runs after tracebacks are rendered so exception text is masked too.
            mask_personal_data,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.WriteLoggerFactory(file=stream or sys.stdout),
        cache_logger_on_first_use=cache,
    )
