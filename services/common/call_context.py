"""The gRPC call being handled, as the log lines written during it name it.

The request edge sets it once per call (request id, method, service); the logging configuration adds it
to every line (`logging.add_call_context`). One context variable, so neither module imports the other."""

from __future__ import annotations

import contextvars

call_log_var: contextvars.ContextVar[tuple[str, str, str] | None] = contextvars.ContextVar("call_log", default=None)
