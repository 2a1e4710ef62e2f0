"""A consumer applies the pages that arrived while it committed together, in one unit of work: a peer
(through a proxy) sends every event as a page of its own while the consumer's first unit of work is held
open; the next unit takes the pages that arrived meanwhile at once (as many as it reads ahead), and every
effect still happens once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import grpc
import pytest

from services.common import consumer as consumer_module
from services.common.clock import ManualClock
from services.common.consumer import Consumer as ConsumerWorker
from services.growth.app import build as build_growth
from skylane.common.v1 import events_pb2, events_pb2_grpc
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc
from tests.events.consumer_cases import GROWTH_CONFIG, PEERS, Side, consumed, cref, enroll_everyone
from tests.events.helpers import drain, eventually, peers_block
from tests.helpers import db_target_for, running_service


class OnePerPage(events_pb2_grpc.EventsOpsServiceServicer):
    """Stands between a consumer and its peer and sends every event as a page of its own, all at once."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.sent = 0
        self._server = grpc.aio.server()
        events_pb2_grpc.add_EventsOpsServiceServicer_to_server(self, self._server)
        self.address = f"127.0.0.1:{self._server.add_insecure_port('127.0.0.1:0')}"

    async def StreamEvents(
        self, request: events_pb2.StreamEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[events_pb2.StreamEventsResponse]:
        async with grpc.aio.insecure_channel(self.upstream) as channel:
            stub = events_pb2_grpc.EventsOpsServiceStub(channel)
            async for page in stub.StreamEvents(request):
                for event in page.events:
                    self.sent += 1
                    yield events_pb2.StreamEventsResponse(events=[event], cursor=event.cursor)
                if not page.events:
                    yield page


async def test_pages_that_arrive_during_a_commit_are_applied_in_one_unit_of_work(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    units: list[int] = []  # pages per unit of work, in order
    inboxes: list[consumer_module._Inbox] = []
    release = asyncio.Event()
    original_apply, original_inbox = ConsumerWorker.apply, consumer_module._Inbox.__init__

    async def apply(self: ConsumerWorker, pages: Sequence[events_pb2.StreamEventsResponse]) -> int:
        if any(page.events for page in pages):
            units.append(len(pages))
            if len(units) == 1:
                await release.wait()  # the first unit of work stays open while the other pages arrive
        return await original_apply(self, pages)

    def inbox(self: consumer_module._Inbox, *args: object) -> None:
        original_inbox(self, *args)  # type: ignore[arg-type]
        inboxes.append(self)

    monkeypatch.setattr(ConsumerWorker, "apply", apply)
    monkeypatch.setattr(consumer_module._Inbox, "__init__", inbox)
    peer = PEERS["rewards"]
    (tmp_path / "peer.yaml").write_text(peer.config, encoding="utf-8")
    async with (
        db_target_for(engine, tmp_path, "peer") as peer_db,
        db_target_for(engine, tmp_path, "growth") as growth_db,
        running_service(peer.build, peer_db, tmp_path / "peer.yaml", clock=peer.clock()) as upstream,
    ):
        await peer.produce(upstream, 0)
        wanted, _ = await drain(upstream.channel, types=("coupon_redeemed", "payment_recorded"))
        proxy = OnePerPage(upstream.service.address)
        await proxy._server.start()
        try:
            config = tmp_path / "growth.yaml"
            config.write_text(GROWTH_CONFIG, encoding="utf-8")
            async with running_service(build_growth, growth_db, config, clock=ManualClock()) as h:
                await enroll_everyone(Side(h.channel, h.app.db))
            config.write_text(GROWTH_CONFIG + peers_block(rewards=proxy.address), encoding="utf-8")
            async with running_service(build_growth, growth_db, config, clock=ManualClock()) as h:
                side = Side(h.channel, h.app.db)

                async def read_ahead() -> bool:  # every page sent, and the reader's queue full
                    full = consumer_module.READ_AHEAD_PAGES
                    return proxy.sent == len(wanted) and bool(inboxes) and inboxes[-1].queue.qsize() >= full

                await eventually(read_ahead, 30, "the other pages read ahead while the first unit is open")
                release.set()
                await eventually(lambda: _all(side, len(wanted)), 30, "every event consumed")
                assert units[1] == consumer_module.READ_AHEAD_PAGES  # all it read ahead, in one unit
                assert len(units) < len(wanted)
                assert set((await consumed(side)).values()) == {"applied"}
                await earned_once(side)
        finally:
            await proxy._server.stop(0)


async def earned_once(side: Side) -> None:
    """The first round of the rewards peer: a coupon (30 points, 10 growth) and six payments (1 point per
    ¥1) per customer."""
    stub = growth_pb2_grpc.GrowthServiceStub(side.channel)
    for customer in range(4):
        points = 30 + sum((1000 + 100 * n) // 100 for n in range(24) if n % 4 == customer)
        balance = await stub.GetBalance(growth_pb2.GetBalanceRequest(customer=cref(f"cust-hash-{customer}")))
        assert (balance.points_available, balance.growth_total) == (points, 10), customer


async def _all(side: Side, n: int) -> bool:
    return len(await consumed(side)) >= n
