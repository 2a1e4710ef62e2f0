"""Shared pieces of the event tests: reading a stream to its end, and configs that point consumers at peers."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import grpc

from skylane.common.v1 import events_pb2, events_pb2_grpc


async def drain(
    channel: grpc.aio.Channel, cursor: str = "", *, types: Sequence[str] = (), page_size: int = 0
) -> tuple[list[events_pb2.DomainEvent], str]:
    """Every event past `cursor` (not following) and the cursor to resume from."""
    stub = events_pb2_grpc.EventsOpsServiceStub(channel)
    events: list[events_pb2.DomainEvent] = []
    request = events_pb2.StreamEventsRequest(cursor=cursor, page_size=page_size, types=list(types))
    async for page in stub.StreamEvents(request):
        events.extend(page.events)
        cursor = page.cursor
    return events, cursor


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 20.0, what: str = "condition") -> None:
    """Polls `check` until it holds (consumers work in the background)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def free_port() -> int:
    """A port the OS says is free now (ephemeral range: never one of the suite's default ports)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peers_block(**addresses: str) -> str:
    """The `events:` block of a config that consumes the given peers."""
    lines = ["events:", "  poll_seconds: 0.2", "  peers:"]
    lines += [f"    {peer}: {{address: '{address}'}}" for peer, address in addresses.items()]
    return "\n".join(lines) + "\n"


class DuplicatingPeer(events_pb2_grpc.EventsOpsServiceServicer):
    """Stands between a consumer and its peer and makes delivery as bad as at-least-once allows: every
    connection first replays the peer's stream from its very start, and every page is sent twice. Pages
    come `delay` seconds apart (so a consumer can be killed mid-stream), and nothing flows until `opened`."""

    def __init__(self, upstream: str, delay: float = 0.0) -> None:
        self.upstream, self.delay = upstream, delay
        self.opened = asyncio.Event()
        self.delivered: dict[str, int] = {}  # event id → times sent
        self.connections = 0
        self._server: grpc.aio.Server | None = None
        self.address = ""

    async def start(self) -> str:
        self._server = grpc.aio.server()
        events_pb2_grpc.add_EventsOpsServiceServicer_to_server(self, self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        self.address = f"127.0.0.1:{port}"
        return self.address

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(0)

    async def StreamEvents(
        self, request: events_pb2.StreamEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[events_pb2.StreamEventsResponse]:
        await self.opened.wait()
        self.connections += 1
        async with grpc.aio.insecure_channel(self.upstream) as channel:
            stub = events_pb2_grpc.EventsOpsServiceStub(channel)
            replay = events_pb2.StreamEventsRequest(page_size=request.page_size, types=request.types)
            async for page in stub.StreamEvents(replay):
                async for copy in self._twice(page):
                    yield copy
            async for page in stub.StreamEvents(request):
                async for copy in self._twice(page):
                    yield copy

    async def _twice(self, page: events_pb2.StreamEventsResponse) -> AsyncIterator[events_pb2.StreamEventsResponse]:
        for _ in range(2):
            if page.events:
                await asyncio.sleep(self.delay)
            for event in page.events:
                self.delivered[event.event_id] = self.delivered.get(event.event_id, 0) + 1
            yield page
