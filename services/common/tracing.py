"""OpenTelemetry tracing: off by default, a span per RPC and per call to a partner when configured.

Nothing here imports OpenTelemetry until tracing is configured, so the default install (without the
`tracing` extra) and every call while tracing is off pay nothing: the edge picks its traced wrapper only
when `tracer_for(service)` returns a tracer at registration (services/common/edge.py), and `client_span`
hands back a shared no-op handle.

Turn it on before the servers start:

    configure_tracing("http://otel-collector:4317")   # OTLP over gRPC (`skylane serve --otlp-endpoint`,
                                                      # or OTEL_EXPORTER_OTLP_ENDPOINT in the environment)
    configure_tracing(exporter=InMemorySpanExporter()) # tests: spans kept in memory, exported synchronously

Each service gets its own tracer provider whose resource names it (`service.name`), so `skylane serve all`
shows three services in a tracing backend, not one. The SDK's own environment variables still apply
(OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES, ...).

Span attributes follow the OpenTelemetry RPC conventions: `rpc.system`, `rpc.service`, `rpc.method`,
`rpc.grpc.status_code` (the number), plus `skylane.service`, `skylane.status` (the code's name),
`skylane.reason` (the ErrorInfo reason of a refused call) and `skylane.request_id`.

A caller's W3C `traceparent` metadata is honoured, so a server span joins its caller's trace;
`client_span` returns the metadata to send so that a partner's server can join the router's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

# gRPC status codes by name (the numbers of the wire protocol); no grpc import needed for the mapping.
GRPC_CODES = {
    "OK": 0,
    "CANCELLED": 1,
    "UNKNOWN": 2,
    "INVALID_ARGUMENT": 3,
    "DEADLINE_EXCEEDED": 4,
    "NOT_FOUND": 5,
    "ALREADY_EXISTS": 6,
    "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8,
    "FAILED_PRECONDITION": 9,
    "ABORTED": 10,
    "OUT_OF_RANGE": 11,
    "UNIMPLEMENTED": 12,
    "INTERNAL": 13,
    "UNAVAILABLE": 14,
    "DATA_LOSS": 15,
    "UNAUTHENTICATED": 16,
}
# Codes that mark a server span as an error (OpenTelemetry's gRPC conventions): the server's fault, not the
# caller's. A refused call (INVALID_ARGUMENT, FAILED_PRECONDITION, ...) is a correct answer.
SERVER_ERROR_CODES = frozenset(
    {"UNKNOWN", "DEADLINE_EXCEEDED", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS"}
)

INSTRUMENTATION = "skylane"


class TracingUnavailable(Exception):
    """Tracing was asked for but the `tracing` extra (opentelemetry-sdk and the OTLP exporter) is missing."""


class _State:
    """What configure_tracing set up: an exporter factory and a provider per service, made on first use."""

    def __init__(self, exporter: Any, batch: bool) -> None:
        self.exporter, self.batch = exporter, batch
        self.providers: dict[str, Any] = {}

    def tracer(self, service: str) -> Any:
        provider = self.providers.get(service)
        if provider is None:
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            processor = BatchSpanProcessor(self.exporter) if self.batch else SimpleSpanProcessor(self.exporter)
            provider.add_span_processor(processor)
            self.providers[service] = provider
        return provider.get_tracer(INSTRUMENTATION)


_state: _State | None = None


def configure_tracing(endpoint: str | None = None, *, exporter: Any = None) -> bool:
    """Turns tracing on: spans exported over OTLP/gRPC to endpoint (batched, off the event loop's path),
    or to exporter (synchronously; tests pass an InMemorySpanExporter). Neither: tracing stays off.
    Returns whether tracing is on. Raises TracingUnavailable without the `tracing` extra."""
    global _state
    if endpoint is None and exporter is None:
        return _state is not None
    try:
        import opentelemetry.sdk.trace  # noqa: F401  (fails here, with a clear message, without the extra)

        if exporter is None:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=endpoint, insecure=_plaintext(endpoint))
            batch = True
        else:
            batch = False
    except ImportError as exc:
        raise TracingUnavailable(
            f"tracing needs the optional packages ({exc.name} is missing): pip install 'skylane[tracing]'"
        ) from None
    shutdown_tracing()
    _state = _State(exporter, batch)
    return True


def _plaintext(endpoint: str | None) -> bool | None:
    """http:// means plaintext, https:// TLS; a bare host:port leaves it to OTEL_EXPORTER_OTLP_INSECURE."""
    if endpoint is None:
        return None
    if endpoint.startswith("http://"):
        return True
    if endpoint.startswith("https://"):
        return False
    return None


def tracing_enabled() -> bool:
    return _state is not None


def tracer_for(service: str) -> Any:
    """The service's tracer, or None when tracing is off (the edge then installs its untraced wrapper)."""
    return _state.tracer(service) if _state is not None else None


def shutdown_tracing() -> None:
    """Flushes and closes every provider (exports what is batched); tracing is off afterwards."""
    global _state
    state, _state = _state, None
    if state is not None:
        for provider in state.providers.values():
            with contextlib.suppress(Exception):
                provider.shutdown()


# --- server spans (used by services/common/edge.py only when a tracer exists) -------------------------


def _metadata_getter() -> Any:
    from opentelemetry.propagators.textmap import Getter

    class MetadataGetter(Getter[Sequence[tuple[str, Any]]]):
        def get(self, carrier: Sequence[tuple[str, Any]], key: str) -> list[str] | None:
            values = [v for k, v in carrier if k == key and isinstance(v, str)]
            return values or None

        def keys(self, carrier: Sequence[tuple[str, Any]]) -> list[str]:
            return [k for k, _ in carrier]

    return MetadataGetter()


_getter: Any = None


@contextlib.contextmanager
def server_span(tracer: Any, method: str, service: str, metadata: Sequence[tuple[str, Any]] | None) -> Iterator[Any]:
    """The span of one RPC, current for its duration; child of the caller's span when it sent traceparent."""
    global _getter
    from opentelemetry import propagate, trace

    if _getter is None:
        _getter = _metadata_getter()
    parent = propagate.extract(metadata or (), getter=_getter)
    rpc_service, _, rpc_method = method.lstrip("/").rpartition("/")
    attributes = {
        "rpc.system": "grpc",
        "rpc.service": rpc_service,
        "rpc.method": rpc_method,
        "skylane.service": service,
    }
    with tracer.start_as_current_span(
        method.lstrip("/"),
        context=parent,
        kind=trace.SpanKind.SERVER,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        yield span


def end_server_span(code: str, reason: str, request_id: str) -> None:
    """Sets the status attributes on the current RPC span (called by the edge as the call is counted)."""
    from opentelemetry import trace

    span = trace.get_current_span()
    span.set_attribute("rpc.grpc.status_code", GRPC_CODES.get(code, 2))
    span.set_attribute("skylane.status", code)
    if reason:
        span.set_attribute("skylane.reason", reason)
    if request_id:
        span.set_attribute("skylane.request_id", request_id)
    if code in SERVER_ERROR_CODES:
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"{code} {reason}".strip()))


# --- client spans: the router's calls to partner lenders ----------------------------------------------


class ClientSpan:
    """What `client_span` yields: metadata to send with the call, and where to record its outcome.
    The no-op instance (tracing off) sends nothing and records nothing."""

    __slots__ = ("metadata", "span")

    def __init__(self, span: Any = None, metadata: tuple[tuple[str, str], ...] = ()) -> None:
        self.span, self.metadata = span, metadata

    def set_status(self, code: str, reason: str = "") -> None:
        """The call's outcome by gRPC status name ('OK', 'UNAVAILABLE', 'DEADLINE_EXCEEDED', ...)."""
        if self.span is None:
            return
        from opentelemetry import trace

        self.span.set_attribute("rpc.grpc.status_code", GRPC_CODES.get(code, 2))
        self.span.set_attribute("skylane.status", code)
        if reason:
            self.span.set_attribute("skylane.reason", reason)
        if code != "OK":
            self.span.set_status(trace.Status(trace.StatusCode.ERROR, f"{code} {reason}".strip()))

    def set_attribute(self, key: str, value: Any) -> None:
        if self.span is not None:
            self.span.set_attribute(key, value)


NO_SPAN = ClientSpan()


@contextlib.contextmanager
def client_span(service: str, method: str, **attributes: Any) -> Iterator[ClientSpan]:
    """A span around one outgoing call, e.g. the router pinging or posting to a partner lender:

        with tracing.client_span("router", "/skylane.partner.v1.PartnerLender/Ping", partner=lender.id) as span:
            reply = await stub.Ping(request, metadata=(*base_metadata, *span.metadata), timeout=...)
            span.set_status("OK")

    Keyword attributes are recorded as `skylane.<name>`. An exception leaving the block marks the span as an
    error: a grpc.RpcError by its status code, anything else (a timeout, a cancelled ping) by its type.
    Tracing off: yields the shared no-op handle (no metadata, nothing recorded) and costs one global read.
    """
    if _state is None:
        yield NO_SPAN
        return
    from opentelemetry import propagate, trace

    tracer = _state.tracer(service)
    rpc_service, _, rpc_method = method.lstrip("/").rpartition("/")
    span_attributes: dict[str, Any] = {"rpc.system": "grpc", "rpc.service": rpc_service, "rpc.method": rpc_method}
    span_attributes.update({f"skylane.{k}": v for k, v in attributes.items() if v is not None})
    with tracer.start_as_current_span(
        method.lstrip("/"),
        kind=trace.SpanKind.CLIENT,
        attributes=span_attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        handle = ClientSpan(span, tuple(carrier.items()))
        try:
            yield handle
        except BaseException as exc:
            handle.set_status(_status_of(exc))
            raise


def _status_of(exc: BaseException) -> str:
    """The gRPC status name an exception leaving a client span stands for."""
    import asyncio

    if isinstance(exc, asyncio.CancelledError):
        return "CANCELLED"
    if isinstance(exc, TimeoutError):
        return "DEADLINE_EXCEEDED"
    code = getattr(exc, "code", None)
    try:
        status = code() if callable(code) else None
    except Exception:
        status = None
    name = getattr(status, "name", None)
    return name if isinstance(name, str) else "UNKNOWN"
