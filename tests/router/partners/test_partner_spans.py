"""With tracing on, the router's calls to a partner lender are client spans: a ping is a child of the
RouteApplicant span, a post (from the dispatcher) a span of its own; each names the partner, and the partner
receives the W3C `traceparent` of its call, so its own server can join the router's trace."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import pytest
import yaml
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.common import tracing
from services.common.clock import ManualClock
from services.router.app import build
from skylane.partner.v1 import partner_pb2
from skylane.router.v1 import router_pb2, router_pb2_grpc
from tests.helpers import DbTarget, running_service
from tests.router.helpers import START, config_text
from tests.router.partners.helpers import applicant, partner_entry, route_request

PARTNER = "skylane.partner.v1.PartnerService"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    assert tracing.configure_tracing(exporter=memory)
    try:
        yield memory
    finally:
        tracing.shutdown_tracing()


@asynccontextmanager
async def tracing_partner() -> AsyncIterator[tuple[dict[str, list[str]], str]]:
    """A partner that bids on and accepts every lead, keeping the traceparent each call brought."""
    seen: dict[str, list[str]] = {"Ping": [], "Post": []}

    def handler(method: str, answer: bytes) -> grpc.RpcMethodHandler:
        async def handle(raw: bytes, context: grpc.aio.ServicerContext) -> bytes:
            metadata = dict(context.invocation_metadata() or ())
            seen[method].append(str(metadata.get("traceparent", "")))
            return answer

        return grpc.unary_unary_rpc_method_handler(handle)

    ping = partner_pb2.PingResponse(bid_offered=True, bid={"fen": 2_000}).SerializeToString()
    post = partner_pb2.PostResponse(result=partner_pb2.PostResponse.ACCEPTED).SerializeToString()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(PARTNER, {"Ping": handler("Ping", ping), "Post": handler("Post", post)}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield seen, f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


async def test_pings_and_posts_are_client_spans_that_send_their_traceparent(
    exporter: InMemorySpanExporter, db_target: DbTarget, tmp_path: Path
) -> None:
    async with tracing_partner() as (seen, address):
        partners = {"delivery": {"background": False}, "lenders": [partner_entry("lender", address)]}
        path = tmp_path / "router.yaml"
        path.write_text(config_text(stickiness_hours=0) + yaml.safe_dump({"partners": partners}), encoding="utf-8")
        async with running_service(build, db_target, path, clock=ManualClock(START)) as h:
            decision = await router_pb2_grpc.RouterServiceStub(h.channel).RouteApplicant(route_request(applicant()))
            assert decision.partner.partner_id == "lender"
            assert await h.app.dispatcher.run_once() == {"accepted": 1}

    spans = exporter.get_finished_spans()
    route = next(s for s in spans if s.name == "skylane.router.v1.RouterService/RouteApplicant")
    ping = next(s for s in spans if s.name == f"{PARTNER}/Ping")
    post = next(s for s in spans if s.name == f"{PARTNER}/Post")
    assert ping.kind == post.kind == SpanKind.CLIENT
    assert ping.parent is not None and ping.parent.span_id == route.context.span_id  # inside the RPC's trace
    assert ping.attributes is not None and ping.attributes["skylane.partner"] == "lender"
    assert post.attributes is not None and post.attributes["skylane.partner"] == "lender"
    assert post.attributes["skylane.lead_id"] == decision.partner.lead_id
    assert ping.attributes["skylane.status"] == post.attributes["skylane.status"] == "OK"
    for span, sent in ((ping, seen["Ping"]), (post, seen["Post"])):
        assert len(sent) == 1
        assert sent[0].split("-")[1:3] == [f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"]


async def test_no_traceparent_when_tracing_is_off(db_target: DbTarget, tmp_path: Path) -> None:
    async with tracing_partner() as (seen, address):
        partners = {"delivery": {"background": False}, "lenders": [partner_entry("lender", address)]}
        path = tmp_path / "router.yaml"
        path.write_text(config_text(stickiness_hours=0) + yaml.safe_dump({"partners": partners}), encoding="utf-8")
        async with running_service(build, db_target, path, clock=ManualClock(START)) as h:
            decision = await router_pb2_grpc.RouterServiceStub(h.channel).RouteApplicant(route_request(applicant()))
            assert decision.destination == router_pb2.DESTINATION_PARTNER_POOL
            await h.app.dispatcher.run_once()
    assert seen == {"Ping": [""], "Post": [""]}
