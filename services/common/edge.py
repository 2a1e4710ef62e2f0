"""The edge every call passes: one wrapper per method, applied when the handlers are registered.

Each unary method's handler is replaced by a wrapper that receives the raw request bytes, so the
edge — not the framework — decides what an undecodable body means (INVALID_ARGUMENT, logged), and
does in one coroutine frame what would otherwise be a chain of interceptors:

1. sets the request id (the caller's `x-request-id` where it is a plain token, or a new one), the method
   and the service's name as the call's log context (`call_log_var`, added to every line by
   logging.add_call_context), so every line logged during the call names its service (`serve all` runs
   three);
2. refuses ops methods to callers that are not ops clients, when an allowlist is set (authz.py), before
   it reads their request: a refused caller learns nothing of the method's rules;
3. parses the body and checks it against request_rules (every method, before any handler runs);
4. runs the handler, and maps what it raises: a DomainError to its status with google.rpc details,
   a lost database to UNAVAILABLE (safe to retry with the same idempotency key), anything else to
   INTERNAL with only the request id;
5. counts the call (Prometheus) and writes one access-log line with its status and reason code.

A server-streaming method (StreamEvents) gets `_EdgeStream`: the same request id and log context, the
caller checked by the ops guard and its request (parsed here too) against request_rules before its first
message, its DomainError mapped to a status, one count and one log line when the stream ends.

With tracing configured (services/common/tracing.py), each method gets `_TracedEdgeCall` instead: the same
steps inside an OpenTelemetry server span carrying the method and status. Off (the default), the
wrapper is exactly the untraced one: the choice is made once per method at registration, not per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import structlog
from google.protobuf.message import DecodeError, Message
from grpc_status import rpc_status

from services.common.authz import Guard, OpsGuard
from services.common.batching import CallsInFlight
from services.common.call_context import call_log_var, current_request_id
from services.common.db_errors import UNAVAILABLE_MESSAGE, is_database_unavailable
from services.common.errors import DomainError, InvalidArgument
from services.common.logging import mask_text
from services.common.metrics import ServiceMetrics
from services.common.request_rules import check_request
from services.common.tracing import end_server_span, server_span, tracer_for

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


# Hex digits written as the letters a-p: a generated id has no run of decimal digits that the log's
# masking of phone, ID and card numbers would take for one (it would then not match the caller's copy).
_NO_DIGITS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


class _RequestIds:
    """Generated request ids: a random per-process prefix and a counter, 32 letters a-p (a uuid4's 128 bits),
    unique across processes without a system call per call (a forked child draws its own prefix)."""

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self.prefix, self.counter = os.urandom(10).hex().translate(_NO_DIGITS), itertools.count()

    def next(self) -> str:
        return self.prefix + f"{next(self.counter) & 0xFFFFFFFFFFFF:012x}".translate(_NO_DIGITS)


_request_ids = _RequestIds()

log = structlog.get_logger("skylane.grpc")

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Message]]


class Edge:
    """What the edge needs to know of its service; `wrap` builds one method's handler."""

    def __init__(
        self,
        metrics: ServiceMetrics,
        calls: CallsInFlight,
        *,
        access_log: AccessLogPolicy,
        ops_guard: OpsGuard | None,
        caller_guards: Mapping[str, Guard] | None = None,
    ) -> None:
        self.metrics, self.calls, self.access_log, self.ops_guard = metrics, calls, access_log, ops_guard
        self.caller_guards = caller_guards or {}
        self.service = metrics.service
        self.tracer = tracer_for(self.service)  # None unless tracing was configured before registration
        # Read at scrape time from the count the write batchers already keep: nothing to move per call.
        metrics.in_flight.labels(metrics.service).set_function(lambda: calls.count)

    def guard_for(self, method: str) -> Guard | None:
        """The check of the caller that runs before the request is parsed: the ops guard for ops methods,
        the service's own check (a partner's token) for the methods it names, or none."""
        ops = self.ops_guard.for_method(method) if self.ops_guard is not None else None
        return ops or self.caller_guards.get(method)

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_stream is not None:
            # grpc tells the two kinds of streaming handler apart by the function: keep the handler's kind.
            kind = _EdgeStream if inspect.isasyncgenfunction(handler.unary_stream) else _EdgeWriterStream
            stream = kind(self, method, handler)
            return grpc.unary_stream_rpc_method_handler(
                stream.handle, request_deserializer=None, response_serializer=handler.response_serializer
            )
        if handler.unary_unary is None:
            return handler  # client- and bidi-streaming methods: none of ours are
        # grpc.aio awaits only what inspect.iscoroutinefunction recognises: pass the bound coroutine method.
        call = _EdgeCall(self, method, handler) if self.tracer is None else _TracedEdgeCall(self, method, handler)
        behavior = call.handle
        return grpc.unary_unary_rpc_method_handler(behavior, request_deserializer=None, response_serializer=None)


class _EdgeCall:
    """One method's wrapper; everything per method is looked up once, here."""

    def __init__(self, edge: Edge, method: str, handler: grpc.RpcMethodHandler) -> None:
        self.method, self.short = method, method.rsplit("/", 1)[-1]
        self.behavior: Behavior = handler.unary_unary
        # The generated FromString is a method of the request class; a handler without one takes raw bytes.
        self.request_type: type[Message] | None = getattr(handler.request_deserializer, "__self__", None)
        self.serialize: Callable[[Any], bytes] = handler.response_serializer or _identity
        self.calls, self.access_log, self.service = edge.calls, edge.access_log, edge.service
        self.guard = edge.guard_for(method)
        metrics = edge.metrics
        self.latency = metrics.latency.labels(metrics.service, self.short)
        self.counter = lambda code: metrics.requests.labels(metrics.service, self.short, code)
        self.counters: dict[str, Any] = {}
        self.unlogged = 0  # successful calls since the last sampled access-log line

    async def handle(self, raw: bytes, context: grpc.aio.ServicerContext) -> bytes:
        started = time.perf_counter()
        rid = _request_id(context)
        logged = call_log_var.set((rid, self.method, self.service))
        self.calls.count += 1
        outcome = _Outcome()
        try:
            return await self._run(raw, context, outcome)
        finally:
            self.calls.count -= 1
            self._observe(outcome, time.perf_counter() - started)
            call_log_var.reset(logged)

    async def _run(self, raw: bytes, context: grpc.aio.ServicerContext, outcome: _Outcome) -> bytes:
        try:
            # The caller first, then its request: a caller the method refuses learns nothing of its rules.
            if self.guard is not None:
                self.guard(context)
            request = _parse(self.request_type, raw) if self.request_type is not None else raw
            check_request(request)
            return self.serialize(await self.behavior(request, context))
        except BaseException as exc:
            await _answer_failure(exc, context, outcome)
            raise  # _answer_failure always raises; this keeps the type checker sure of it

    def _observe(self, outcome: _Outcome, elapsed: float) -> None:
        self.latency.observe(elapsed)
        counter = self.counters.get(outcome.code)
        if counter is None:
            counter = self.counters[outcome.code] = self.counter(outcome.code)
        counter.inc()
        if outcome.code != "OK":
            log.info("rpc", code=outcome.code, reason=outcome.reason, latency_ms=round(elapsed * 1000, 3))
        elif elapsed >= self.access_log.slow_seconds:
            log.info("rpc", code="OK", latency_ms=round(elapsed * 1000, 3), slow=True)
        elif self.access_log.every:
            self.unlogged += 1
            if self.unlogged >= self.access_log.every:
                self.unlogged = 0
                log.info("rpc", code="OK", latency_ms=round(elapsed * 1000, 3), sampled_1_in=self.access_log.every)


class _TracedEdgeCall(_EdgeCall):
    """The edge inside an OpenTelemetry server span (tracing on): the span is current while the handler
    runs, so spans the handler opens (a partner call) are its children, and it ends with the call's status."""

    def __init__(self, edge: Edge, method: str, handler: grpc.RpcMethodHandler) -> None:
        super().__init__(edge, method, handler)
        self.tracer = edge.tracer

    async def handle(self, raw: bytes, context: grpc.aio.ServicerContext) -> bytes:
        with server_span(self.tracer, self.method, self.service, context.invocation_metadata()):
            return await super().handle(raw, context)

    def _observe(self, outcome: _Outcome, elapsed: float) -> None:
        super()._observe(outcome, elapsed)
        end_server_span(outcome.code, outcome.reason, current_request_id())


def _parse(request_type: type[Message], raw: bytes) -> Message:
    """The request parsed by the edge, so a body that is not one is INVALID_ARGUMENT like any bad field
    (grpc's own deserializer answers UNKNOWN, naming a Python exception)."""
    try:
        return request_type.FromString(raw)
    except (DecodeError, ValueError, RecursionError) as exc:
        name = request_type.DESCRIPTOR.name
        raise InvalidArgument.single("request", f"the body is not a valid {name}", reason="MALFORMED_REQUEST") from exc


class _EdgeStream:
    """A server-streaming method's edge (StreamEvents): the request id and service bound for its log lines,
    the caller checked by the method's ops guard and then the request against request_rules before the
    first message, a DomainError mapped to its status, and the call counted and logged when the stream
    ends. A stream is not a call in flight for the write batcher (it would keep the batcher waiting for
    arrivals)."""

    def __init__(self, edge: Edge, method: str, handler: grpc.RpcMethodHandler) -> None:
        self.method, self.short, self.service = method, method.rsplit("/", 1)[-1], edge.service
        self.behavior = handler.unary_stream
        self.request_type: type[Message] = handler.request_deserializer.__self__
        self.guard = edge.guard_for(method)
        metrics = edge.metrics
        self.counter = lambda code: metrics.requests.labels(metrics.service, self.short, code)

    async def handle(self, raw: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        started, logged, outcome = self._begin(context)
        try:
            request = self._checked(raw, context)
            async for response in self.behavior(request, context):
                yield response
        except BaseException as exc:
            await _answer_failure(exc, context, outcome)
            raise
        finally:
            self._end(started, logged, outcome)

    def _begin(self, context: grpc.aio.ServicerContext) -> tuple[float, Any, _Outcome]:
        return time.perf_counter(), call_log_var.set((_request_id(context), self.method, self.service)), _Outcome()

    def _checked(self, raw: bytes, context: grpc.aio.ServicerContext) -> Message:
        if self.guard is not None:
            self.guard(context)
        request = _parse(self.request_type, raw)
        check_request(request)
        return request

    def _end(self, started: float, logged: Any, outcome: _Outcome) -> None:
        self.counter(outcome.code).inc()
        log.info("rpc", code=outcome.code, reason=outcome.reason, stream_s=round(time.perf_counter() - started, 3))
        with contextlib.suppress(ValueError):  # a generator closed from another context
            call_log_var.reset(logged)


class _EdgeWriterStream(_EdgeStream):
    """The same edge for a server-streaming method that writes its messages with `context.write` instead
    of yielding them (grpc's own health Watch)."""

    async def handle(self, raw: bytes, context: grpc.aio.ServicerContext) -> None:  # type: ignore[override]
        started, logged, outcome = self._begin(context)
        try:
            await self.behavior(self._checked(raw, context), context)
        except BaseException as exc:
            await _answer_failure(exc, context, outcome)
            raise
        finally:
            self._end(started, logged, outcome)


async def _answer_failure(exc: BaseException, context: grpc.aio.ServicerContext, outcome: _Outcome) -> None:
    """Records what ended a call (unary or stream) and answers it; always raises. A DomainError answers
    its status with details; cancellation and a handler's own abort pass through; a lost database
    answers UNAVAILABLE (safe to retry); anything else INTERNAL with only the request id."""
    if isinstance(exc, DomainError):
        outcome.set(exc.grpc_code.name, exc.reason)
        await context.abort_with_status(rpc_status.to_status(exc.to_status()))
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        outcome.set("CANCELLED", "")
        raise exc
    if isinstance(exc, grpc.aio.AbortError):
        status = context.code()
        outcome.set(status.name if isinstance(status, grpc.StatusCode) else "UNKNOWN", "")
        raise exc
    if not isinstance(exc, Exception):
        raise exc  # KeyboardInterrupt, SystemExit: not the call's to answer
    if is_database_unavailable(exc):
        outcome.set("UNAVAILABLE", "DATABASE_UNAVAILABLE")
        log.warning("database_unavailable", error=type(exc).__name__)
        await context.abort(grpc.StatusCode.UNAVAILABLE, UNAVAILABLE_MESSAGE)
    outcome.set("INTERNAL", "")
    log.exception("unhandled_error")
    await context.abort(grpc.StatusCode.INTERNAL, f"internal error; quote request id {current_request_id()}")


def _identity(response: Any) -> Any:
    return response


@dataclass(frozen=True)
class AccessLogPolicy:
    """Which calls get an access-log line: every refused or failed call, every call slower than
    `slow_seconds`, and one in `every` of the rest (0: none). Every call is counted in the metrics
    whatever is logged, so sampling the successful lines costs nothing in visibility of rates."""

    every: int = 1
    slow_seconds: float = 0.25

    @classmethod
    def sampled(cls, share: float, slow_ms: float = 250.0) -> AccessLogPolicy:
        """share of successful calls logged: 1 = all, 0.01 = one in a hundred, 0 = none."""
        if not 0.0 <= share <= 1.0:
            raise ValueError("the access-log sample must be between 0 and 1")
        return cls(every=0 if share == 0 else max(1, round(1 / share)), slow_seconds=slow_ms / 1000)


class _Outcome:
    __slots__ = ("code", "reason")

    def __init__(self) -> None:
        self.code, self.reason = "OK", ""

    def set(self, code: str, reason: str) -> None:
        self.code, self.reason = code, reason


def _request_id(context: grpc.aio.ServicerContext) -> str:
    """The caller's `x-request-id` where it is a plain token, else a new one. An id that reads as personal
    data (a phone, ID or card number) is not used: every log line quotes the request id, and masked there
    it would no longer match the caller's."""
    for k, value in context.invocation_metadata() or ():
        if k == "x-request-id":
            usable = isinstance(value, str) and _REQUEST_ID.match(value) and mask_text(value) == value
            return value if usable else _request_ids.next()
    return _request_ids.next()


class EdgeRegistrar:
    """Stands in for the grpc.aio server while servicers register, so every method gets its edge.

    Generated `add_*Servicer_to_server` functions hand the same handler table to
    `add_generic_rpc_handlers` and to `add_registered_method_handlers`; the second carries the service
    name, so the wrapped table is registered both ways from there and the first call is only checked.
    """

    def __init__(self, server: grpc.aio.Server, edge: Edge) -> None:
        self.server, self.edge = server, edge
        self.services: list[str] = []
        self._unmatched = 0

    def add_generic_rpc_handlers(self, handlers: Iterable[grpc.GenericRpcHandler]) -> None:
        self._unmatched += len(tuple(handlers))

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        wrapped = {name: self.edge.wrap(f"/{service}/{name}", h) for name, h in handlers.items()}
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, wrapped),))
        self.server.add_registered_method_handlers(service, wrapped)
        self.services.append(service)
        self._unmatched -= 1

    def check_complete(self) -> None:
        """Every table registered through the named path (a generic-only registration would bypass the edge)."""
        if self._unmatched > 0:
            raise RuntimeError("a servicer registered generic handlers only; they would bypass the edge")
