"""Server interceptors: request context, access log + metrics, and domain-error mapping.

Order matters and is fixed in server.py: context (outermost) → observe → errors (innermost), so the
access log and metrics see the final status code and carry the request id. Each interceptor wraps a
method's handler once and reuses it for every later call of that method: the per-call cost is one
extra coroutine frame per interceptor, nothing more.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import structlog
from grpc_status import rpc_status

from services.common.batching import CallsInFlight
from services.common.errors import DomainError
from services.common.metrics import ServiceMetrics

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

log = structlog.get_logger("skylane.grpc")

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


class _CachingInterceptor(grpc.aio.ServerInterceptor):
    """Wraps each method's unary-unary behaviour once; other handler kinds pass through untouched."""

    def __init__(self) -> None:
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        raise NotImplementedError

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        cached = self._wrapped.get(details.method)
        if cached is not None:
            return cached
        handler = await continuation(details)
        if handler is None or handler.unary_unary is None:
            return handler
        wrapped = grpc.unary_unary_rpc_method_handler(
            self.wrap(details.method, handler.unary_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        self._wrapped[details.method] = wrapped
        return wrapped


def _short_method(full: str) -> str:
    return full.rsplit("/", 1)[-1]


class RequestContextInterceptor(_CachingInterceptor):
    """Takes x-request-id from the caller (or makes one) and binds it to structlog's context; counts the
    calls in flight (the write batchers wait for arrivals only when others are on their way)."""

    def __init__(self, calls: CallsInFlight) -> None:
        super().__init__()
        self.calls = calls

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        calls = self.calls

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            incoming = next((v for k, v in context.invocation_metadata() or () if k == "x-request-id"), None)
            rid = incoming if isinstance(incoming, str) and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
            token = request_id_var.set(rid)
            structlog.contextvars.bind_contextvars(request_id=rid, method=method)
            calls.count += 1
            try:
                return await behavior(request, context)
            finally:
                calls.count -= 1
                structlog.contextvars.unbind_contextvars("request_id", "method")
                request_id_var.reset(token)

        return call


class ObservabilityInterceptor(_CachingInterceptor):
    """Access log line and Prometheus metrics for every call: method, status code, latency."""

    def __init__(self, metrics: ServiceMetrics, *, access_log: bool = True) -> None:
        super().__init__()
        self.metrics, self.access_log = metrics, access_log

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        short = _short_method(method)
        metrics, access_log = self.metrics, self.access_log
        latency = metrics.latency.labels(metrics.service, short)
        in_flight = metrics.in_flight.labels(metrics.service)
        counters: dict[str, Any] = {}

        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            code = "OK"
            in_flight.inc()
            try:
                return await behavior(request, context)
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            except BaseException:
                status = context.code()
                code = status.name if isinstance(status, grpc.StatusCode) else "UNKNOWN"
                raise
            finally:
                elapsed = time.perf_counter() - started
                in_flight.dec()
                latency.observe(elapsed)
                counter = counters.get(code)
                if counter is None:
                    counter = counters[code] = metrics.requests.labels(metrics.service, short, code)
                counter.inc()
                if access_log:
                    log.info("rpc", code=code, latency_ms=round(elapsed * 1000, 3))

        return call


class ErrorMappingInterceptor(_CachingInterceptor):
    """DomainError → its status with google.rpc details; anything unexpected → INTERNAL, no internals."""

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                return await behavior(request, context)
            except DomainError as exc:
                await context.abort_with_status(rpc_status.to_status(exc.to_status()))
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except Exception:
                log.exception("unhandled_error")
                await context.abort(
                    grpc.StatusCode.INTERNAL, f"internal error; quote request id {request_id_var.get()}"
                )

        return call
