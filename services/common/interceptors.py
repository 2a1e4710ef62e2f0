"""Server interceptors: request context, access log + metrics, and domain-error mapping.

Order matters and is fixed in server.py: context (outermost) → observe → errors (innermost), so the
access log and metrics see the final status code and carry the request id.
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

from services.common.errors import DomainError
from services.common.metrics import ServiceMetrics

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

log = structlog.get_logger("skylane.grpc")

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]


def _wrap(handler: grpc.RpcMethodHandler | None, wrap: Callable[[Behavior], Behavior]) -> Any:
    """Wraps the unary-unary behaviour of a handler; other kinds pass through untouched."""
    if handler is None or handler.unary_unary is None:
        return handler
    return grpc.unary_unary_rpc_method_handler(
        wrap(handler.unary_unary),
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )


def _short_method(full: str) -> str:
    return full.rsplit("/", 1)[-1]


class RequestContextInterceptor(grpc.aio.ServerInterceptor):
    """Takes x-request-id from the caller (or makes one) and binds it to structlog's context."""

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        method = details.method
        incoming = next((v for k, v in details.invocation_metadata or () if k == "x-request-id"), None)

        def wrap(behavior: Behavior) -> Behavior:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                rid = incoming if isinstance(incoming, str) and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
                token = request_id_var.set(rid)
                structlog.contextvars.bind_contextvars(request_id=rid, method=method)
                try:
                    return await behavior(request, context)
                finally:
                    structlog.contextvars.unbind_contextvars("request_id", "method")
                    request_id_var.reset(token)

            return call

        return _wrap(handler, wrap)


class ObservabilityInterceptor(grpc.aio.ServerInterceptor):
    """Access log line and Prometheus metrics for every call: method, status code, latency."""

    def __init__(self, metrics: ServiceMetrics, *, access_log: bool = True) -> None:
        self.metrics, self.access_log = metrics, access_log

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        method = _short_method(details.method)
        metrics, access_log = self.metrics, self.access_log

        def wrap(behavior: Behavior) -> Behavior:
            async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started = time.perf_counter()
                code = "OK"
                metrics.in_flight.labels(metrics.service).inc()
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
                    metrics.in_flight.labels(metrics.service).dec()
                    metrics.observe(method, code, elapsed)
                    if access_log:
                        log.info("rpc", code=code, latency_ms=round(elapsed * 1000, 3))

            return call

        return _wrap(handler, wrap)


class ErrorMappingInterceptor(grpc.aio.ServerInterceptor):
    """DomainError → its status with google.rpc details; anything unexpected → INTERNAL, no internals."""

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)

        def wrap(behavior: Behavior) -> Behavior:
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

        return _wrap(handler, wrap)
