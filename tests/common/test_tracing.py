"""OpenTelemetry tracing: a server span per RPC with method and status when configured, none when off,
and the client-span helper the router uses around its calls to partner lenders."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import MetaData

from services.common import edge as edge_module
from services.common import tracing
from services.common.app import ServiceApp
from services.common.clock import ManualClock
from services.common.config import ConfigStore, Schema
from services.common.db import Database
from services.common.edge import _EdgeCall, _TracedEdgeCall
from services.common.errors import FailedPrecondition
from services.common.server import RunningService, ServerOptions, start_service
from skylane.common.v1 import admin_pb2, admin_pb2_grpc

PROBE = "skylane.common.v1.Admin/Probe"


class _Empty(Schema):
    pass


class TracedApp(ServiceApp):
    """Admin plus one method that refuses, on a database it never touches."""

    name = "traced"

    async def start(self) -> None:  # no schema needed: nothing here writes
        return None

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        async def refuse(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            raise FailedPrecondition("INSUFFICIENT_POINTS", "needs 500 points, has 20", subject="member:m1")

        async def explode(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            raise RuntimeError("boom")

        async def current(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            """Whether an OpenTelemetry span is current while the handler runs."""
            return b"1" if trace.get_current_span().get_span_context().is_valid else b"0"

        server.add_registered_method_handlers(
            "test.Traced",
            {
                "Refuse": grpc.unary_unary_rpc_method_handler(refuse),
                "Explode": grpc.unary_unary_rpc_method_handler(explode),
                "Current": grpc.unary_unary_rpc_method_handler(current),
            },
        )
        return ["test.Traced"]


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    assert tracing.configure_tracing(exporter=memory)
    try:
        yield memory
    finally:
        tracing.shutdown_tracing()


async def _start(tmp_path: Path) -> RunningService:
    config_path = tmp_path / "traced.yaml"
    config_path.write_text("{}\n")
    app = TracedApp(
        config=ConfigStore(config_path, _Empty),
        db=Database(f"sqlite+aiosqlite:///{tmp_path / 'traced.db'}"),
        clock=ManualClock(),
        metadata=MetaData(),
        migrations=tmp_path,
    )
    return await start_service(app, ServerOptions(port=0, metrics_port=None, config_poll_seconds=None))


async def _calls(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        admin = admin_pb2_grpc.AdminStub(channel)
        await admin.Probe(admin_pb2.ProbeRequest(), metadata=(("x-request-id", "req-1"),))
        with pytest.raises(grpc.aio.AioRpcError):
            await admin.Probe(admin_pb2.ProbeRequest(hold_ms=-5))
        with pytest.raises(grpc.aio.AioRpcError):
            await channel.unary_unary("/test.Traced/Refuse")(b"")
        with pytest.raises(grpc.aio.AioRpcError):
            await channel.unary_unary("/test.Traced/Explode")(b"")


async def test_a_server_span_per_rpc_with_method_and_status(exporter: InMemorySpanExporter, tmp_path: Path) -> None:
    service = await _start(tmp_path)
    try:
        await _calls(service.address)
    finally:
        await service.stop(1)
    spans = [s for s in exporter.get_finished_spans() if s.name.startswith(("skylane.common.v1.Admin/", "test."))]
    assert [s.name for s in spans] == [PROBE, PROBE, "test.Traced/Refuse", "test.Traced/Explode"]
    ok, invalid, refused, internal = spans
    assert all(s.kind == SpanKind.SERVER for s in spans)
    assert all(s.resource.attributes["service.name"] == "traced" for s in spans)
    assert dict(ok.attributes or {}) == {
        "rpc.system": "grpc",
        "rpc.service": "skylane.common.v1.Admin",
        "rpc.method": "Probe",
        "skylane.service": "traced",
        "rpc.grpc.status_code": 0,
        "skylane.status": "OK",
        "skylane.request_id": "req-1",
    }
    assert ok.status.status_code == StatusCode.UNSET
    assert (invalid.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert (refused.attributes or {})["skylane.status"] == "FAILED_PRECONDITION"
    assert (refused.attributes or {})["skylane.reason"] == "INSUFFICIENT_POINTS"
    assert refused.status.status_code == StatusCode.UNSET  # a refusal is a correct answer, not a server error
    assert (internal.attributes or {})["rpc.grpc.status_code"] == grpc.StatusCode.INTERNAL.value[0]
    assert internal.status.status_code == StatusCode.ERROR


async def test_no_spans_when_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not tracing.tracing_enabled() and tracing.tracer_for("traced") is None
    opened: list[object] = []
    monkeypatch.setattr(edge_module, "server_span", lambda *args: opened.append(args))
    monkeypatch.setattr(edge_module, "end_server_span", lambda *args: opened.append(args))
    service = await _start(tmp_path)
    try:
        await _calls(service.address)
        async with grpc.aio.insecure_channel(service.address) as channel:
            assert await channel.unary_unary("/test.Traced/Current")(b"") == b"0"
    finally:
        await service.stop(1)
    assert opened == []  # the span helpers were never reached


async def test_the_span_is_current_in_the_handler_when_on(exporter: InMemorySpanExporter, tmp_path: Path) -> None:
    service = await _start(tmp_path)
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            assert await channel.unary_unary("/test.Traced/Current")(b"") == b"1"
    finally:
        await service.stop(1)


def test_the_edge_picks_its_wrapper_once_at_registration(exporter: InMemorySpanExporter) -> None:
    from services.common.batching import CallsInFlight
    from services.common.edge import Edge
    from services.common.metrics import ServiceMetrics

    async def behavior(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    handler = grpc.unary_unary_rpc_method_handler(behavior)
    traced = Edge(ServiceMetrics("a"), CallsInFlight(), access_log=False, ops_guard=None).wrap("/t.S/M", handler)
    assert type(traced.unary_unary.__self__) is _TracedEdgeCall
    tracing.shutdown_tracing()
    plain = Edge(ServiceMetrics("a"), CallsInFlight(), access_log=False, ops_guard=None).wrap("/t.S/M", handler)
    assert type(plain.unary_unary.__self__) is _EdgeCall


async def test_caller_trace_context_is_continued(exporter: InMemorySpanExporter, tmp_path: Path) -> None:
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    service = await _start(tmp_path)
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            await admin_pb2_grpc.AdminStub(channel).Probe(
                admin_pb2.ProbeRequest(), metadata=(("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01"),)
            )
    finally:
        await service.stop(1)
    (span,) = [s for s in exporter.get_finished_spans() if s.name == PROBE]
    assert f"{span.context.trace_id:032x}" == trace_id
    assert span.parent is not None and f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"


async def test_client_span_nests_under_the_rpc_and_propagates(exporter: InMemorySpanExporter) -> None:
    with tracing.client_span("router", "/skylane.partner.v1.PartnerLender/Ping", partner="quickcash") as span:
        assert [k for k, _ in span.metadata] == ["traceparent"]
        span.set_status("OK")
    with pytest.raises(TimeoutError), tracing.client_span("router", "/skylane.partner.v1.PartnerLender/Post"):
        raise TimeoutError
    ping, post = exporter.get_finished_spans()
    assert ping.kind == SpanKind.CLIENT and ping.name == "skylane.partner.v1.PartnerLender/Ping"
    assert (ping.attributes or {})["skylane.partner"] == "quickcash"
    assert (ping.attributes or {})["rpc.grpc.status_code"] == 0
    assert ping.resource.attributes["service.name"] == "router"
    assert (post.attributes or {})["skylane.status"] == "DEADLINE_EXCEEDED"
    assert post.status.status_code == StatusCode.ERROR


def test_client_span_is_a_shared_no_op_when_off() -> None:
    assert not tracing.tracing_enabled()
    with tracing.client_span("router", "/p.S/M", partner="x") as span:
        assert span is tracing.NO_SPAN and span.metadata == ()
        span.set_status("UNAVAILABLE")  # records nothing, raises nothing


def test_missing_extra_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", None)
    with pytest.raises(tracing.TracingUnavailable, match=r"skylane\[tracing\]"):
        tracing.configure_tracing("http://127.0.0.1:4317")
    assert not tracing.tracing_enabled()


def test_otlp_endpoint_turns_tracing_on_without_connecting() -> None:
    """The OTLP exporter connects lazily: configuring it needs no collector (nothing is exported here)."""
    try:
        assert tracing.configure_tracing("http://127.0.0.1:4317")
        assert tracing.tracer_for("router") is not None
    finally:
        tracing.shutdown_tracing()
    assert not tracing.tracing_enabled()


async def test_spans_reach_an_otlp_collector(tmp_path: Path) -> None:
    """End to end over OTLP/gRPC: a collector stand-in on a free local port receives the RPC's span."""
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    received: list[trace_service_pb2.ExportTraceServiceRequest] = []

    class Collector(trace_service_pb2_grpc.TraceServiceServicer):
        async def Export(
            self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.aio.ServicerContext
        ) -> trace_service_pb2.ExportTraceServiceResponse:
            received.append(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    collector = grpc.aio.server()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Collector(), collector)
    port = collector.add_insecure_port("127.0.0.1:0")
    await collector.start()
    try:
        assert tracing.configure_tracing(f"http://127.0.0.1:{port}")
        service = await _start(tmp_path)
        try:
            async with grpc.aio.insecure_channel(service.address) as channel:
                await admin_pb2_grpc.AdminStub(channel).Probe(admin_pb2.ProbeRequest())
        finally:
            await service.stop(1)
        # The batch exporter runs on its own thread and calls the collector synchronously: flush off the loop.
        await asyncio.to_thread(tracing.shutdown_tracing)
    finally:
        tracing.shutdown_tracing()
        await collector.stop(None)
    spans = [
        (resource.resource, span)
        for request in received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    (resource, span) = next((r, s) for r, s in spans if s.name == PROBE)
    assert {a.key: a.value.string_value for a in resource.attributes}["service.name"] == "traced"
    attributes = {a.key: a.value for a in span.attributes}
    assert attributes["rpc.method"].string_value == "Probe"
    assert attributes["rpc.grpc.status_code"].int_value == 0
