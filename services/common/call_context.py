"""The gRPC call being handled: its request id, method and service.

The request edge sets it once per call; the logging configuration adds it to every line
(`logging.add_call_context`), and Admin.Probe and error answers quote its request id. One context
variable, so neither the edge nor logging imports the other."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

call_log_var: contextvars.ContextVar[tuple[str, str, str] | None] = contextvars.ContextVar("call_log", default=None)


def current_request_id() -> str:
    """The request id of the call being handled ("" outside a call)."""
    call = call_log_var.get()
    return call[0] if call is not None else ""


def start_outside_calls(work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """A long-lived task that the first call needing it starts, with none of that call's context: what it
    logs later, for other calls, must not carry the first call's request id (a task copies the context it
    was created in)."""
    return asyncio.get_running_loop().create_task(work, context=contextvars.Context())
