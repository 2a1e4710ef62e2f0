"""Personal data put into every string field of every RPC is found nowhere afterwards.

The three servers run on one engine with their default configs; the router's partner lenders are a
recording partner on a real socket. Every unary method is called with plausible requests (ids harvested
from earlier answers, so calls get past lookups), and then with a name, a mobile number, an ID number
and a card number put, one at a time, into each string field those requests hold. Afterwards every log
line, every row of every table of the three databases (text and binary columns) and every byte a
partner received is searched for the four values: there must be no hit.
"""

from __future__ import annotations

import asyncio
import io
import random
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf.message import Message

from services.common.logging import configure_logging
from services.common.server import ServerOptions
from services.registry import SERVICES
from services.router.partners.domain import Consent
from skylane.partner.v1 import partner_pb2
from tests.fuzz import catalog
from tests.fuzz.servers import CHANNEL_OPTIONS, served_services
from tests.fuzz.values import Filler, Pools, is_map
from tests.helpers import REPO, DbTarget, _asyncpg_dsn, db_target_for, running_service
from tests.router.partners.helpers import applicant, route_request

NAME, MOBILE, ID_NUMBER, CARD = "张三", "13812345678", "110101199003074514", "6222021234567890128"
PERSONAL = (NAME, MOBILE, ID_NUMBER, CARD)
BASES_PER_METHOD = 3
WARM_UP_CALLS = 12
IN_FLIGHT = 16
CLASSES = frozenset({"consumer_finance", "licensed_bank"})
PURPOSES = frozenset({"loan_referral"})

# As `skylane serve` runs: the access log on, so every call leaves a line to search.
LOGGED = ServerOptions(port=0, metrics_port=None, config_poll_seconds=None, access_log=True)


@dataclass
class RecordingPartner:
    """A partner lender that bids on and accepts every lead and keeps every byte it was sent."""

    received: list[bytes] = field(default_factory=list)

    async def ping(self, raw: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.received.append(raw)
        return partner_pb2.PingResponse(bid_offered=True, bid={"fen": 2_000}).SerializeToString()

    async def post(self, raw: bytes, context: grpc.aio.ServicerContext) -> bytes:
        self.received.append(raw)
        return partner_pb2.PostResponse(result=partner_pb2.PostResponse.ACCEPTED).SerializeToString()


@asynccontextmanager
async def recording_partner() -> AsyncIterator[tuple[RecordingPartner, str]]:
    partner = RecordingPartner()
    server = grpc.aio.server()
    handlers = {
        "Ping": grpc.unary_unary_rpc_method_handler(partner.ping),
        "Post": grpc.unary_unary_rpc_method_handler(partner.post),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("skylane.partner.v1.PartnerService", handlers),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield partner, f"127.0.0.1:{port}"
    finally:
        await server.stop(0)


@dataclass
class Served:
    name: str
    harness: Any
    target: DbTarget
    channel: Any
    pools: Pools
    methods: list[catalog.Method]


def config_for(name: str, directory: Path, partner: str) -> tuple[Path, str, Any]:
    text = (REPO / "config" / f"{name}.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    partners = document.get("partners") or {}
    for lender in partners.get("lenders", []):
        lender["endpoint"] = partner
        lender.pop("tls", None)
    if partners:
        partners.setdefault("delivery", {})["background"] = False  # the test drives delivery itself
    text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text, document


@asynccontextmanager
async def three_servers(engine: str, directory: Path, partner: str, rng: random.Random) -> AsyncIterator[list[Served]]:
    async with AsyncExitStack() as stack:
        served = []
        for name, entry in SERVICES.items():
            path, text, document = config_for(name, directory, partner)
            target = await stack.enter_async_context(db_target_for(engine, directory, name))
            harness = await stack.enter_async_context(running_service(entry.build, target, path, options=LOGGED))
            channel = grpc.aio.insecure_channel(harness.service.address, options=CHANNEL_OPTIONS)
            stack.push_async_callback(channel.close)
            pools = Pools.from_config(document, text, harness.clock.now(), rng)
            methods = catalog.methods_for(name, await served_services(channel))
            served.append(Served(name, harness, target, channel, pools, methods))
        yield served


def string_setters(message: Message, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every string the message holds (fields, list items, map keys and values)."""
    found: list[tuple[Any, ...]] = []
    for fd, value in message.ListFields():
        here = (*path, fd.name)
        if is_map(fd):
            value_fd = fd.message_type.fields_by_name["value"]
            for key in list(value):
                if isinstance(key, str):
                    found.append((*here, ("key", key)))
                if value_fd.message_type is not None:
                    found.extend(string_setters(value[key], (*here, ("entry", key))))
                elif value_fd.type == value_fd.TYPE_STRING:
                    found.append((*here, ("value", key)))
        elif fd.is_repeated:
            for index, item in enumerate(value):
                if fd.type == fd.TYPE_STRING:
                    found.append((*here, ("item", index)))
                elif fd.message_type is not None:
                    found.extend(string_setters(item, (*here, ("item", index))))
        elif fd.type == fd.TYPE_STRING:
            found.append(here)
        elif fd.message_type is not None:
            found.extend(string_setters(value, here))
    return found


def put(message: Message, path: tuple[Any, ...], text: str) -> None:
    """Sets the string at path (from string_setters) to text."""
    node: Any = message
    for step in path[:-1]:
        if isinstance(step, tuple):
            kind, where = step
            node = node[where]
        else:
            node = getattr(node, step)
    last = path[-1]
    if not isinstance(last, tuple):
        setattr(node, last, text)
        return
    kind, where = last
    if kind == "key":
        moved = node[where]
        if isinstance(moved, Message):
            copy = type(moved)()
            copy.CopyFrom(moved)
            del node[where]
            node[text].CopyFrom(copy)
        else:
            del node[where]
            node[text] = moved
    else:
        node[where] = text


async def call(server: Served, method: catalog.Method, request: Message) -> None:
    stub = server.channel.unary_unary(
        method.path,
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=method.response_type.FromString,
    )
    try:
        response = await stub(request, timeout=10)
    except grpc.aio.AioRpcError:
        return
    server.pools.harvest(response)


async def run_all(calls: list[Callable[[], Any]]) -> None:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(make: Callable[[], Any]) -> None:
        async with gate:
            await make()

    await asyncio.gather(*(one(make) for make in calls))


async def exercise(server: Served, rng: random.Random) -> None:
    filler = Filler(server.pools, rng)
    for _ in range(WARM_UP_CALLS):  # ids to look up later: members, offers, coupons, holds, leads
        await run_all([lambda m=m: call(server, m, filler.fill(m.request_type())) for m in server.methods])
    planned: list[Callable[[], Any]] = []
    for method in server.methods:
        bases = [filler.fill(method.request_type()) for _ in range(BASES_PER_METHOD)]
        if method.path.endswith("/RouteApplicant"):
            bases += pool_applicants(server)
            await run_all([lambda m=method, r=r: call(server, m, r) for r in bases])
        for base in bases:
            for path in string_setters(base):
                for text in PERSONAL:
                    request = type(base)()
                    request.CopyFrom(base)
                    put(request, path, text)
                    planned.append(lambda m=method, r=request: call(server, m, r))
    assert len(planned) > 100, "enough calls carry personal data to mean something"
    await run_all(planned)


def pool_applicants(server: Served) -> list[Message]:
    """Well-formed applicants across the score range, with consent to share with partners, so some of
    the router's decisions become leads for the partner before personal data is put into them."""
    granted = server.harness.clock.now() - timedelta(days=1)
    requests = []
    for score in (560, 600, 640, 680, 720, 760):
        a = replace(applicant(), score=score, consents=(Consent(frozenset(), CLASSES, PURPOSES, granted),))
        request = route_request(a)
        request.tags["region"].string_value = "310115"  # an administrative code, as the router's config declares
        requests.append(request)
    return requests


async def drive_router_deliveries(servers: list[Served]) -> None:
    router = next(s for s in servers if s.name == "router")
    for _ in range(20):
        if not await router.harness.app.dispatcher.run_once():
            return


async def table_dump(target: DbTarget) -> list[bytes]:
    """Every cell of every table, as bytes (text as UTF-8; binary as it is stored)."""
    if target.engine == "sqlite":
        path = target.url.split("///", 1)[1]
        with sqlite3.connect(path) as conn:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            return [_as_bytes(cell) for t in tables for row in conn.execute(f'SELECT * FROM "{t}"') for cell in row]
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn())
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", target.schema
        )
        cells = []
        for t in tables:
            for row in await conn.fetch(f'SELECT * FROM "{target.schema}"."{t["table_name"]}"'):
                cells.extend(_as_bytes(cell) for cell in row.values())
        return cells
    finally:
        await conn.close()


def _as_bytes(cell: Any) -> bytes:
    if isinstance(cell, bytes | bytearray | memoryview):
        return bytes(cell)
    return str(cell).encode("utf-8")


def hits(blobs: list[bytes]) -> dict[str, int]:
    counts = {text: sum(blob.count(text.encode("utf-8")) for blob in blobs) for text in PERSONAL}
    return {text: n for text, n in counts.items() if n}


async def test_personal_data_is_nowhere_after_every_field_held_it(engine: str, tmp_path: Path) -> None:
    rng = random.Random(20261126)
    log = io.StringIO()
    configure_logging("info", stream=log, cache=False)
    try:
        async with recording_partner() as (partner, address), three_servers(engine, tmp_path, address, rng) as servers:
            for server in servers:
                await exercise(server, rng)
            await drive_router_deliveries(servers)
            tables = {s.name: await table_dump(s.target) for s in servers}
    finally:
        configure_logging("warning", cache=False)
    assert partner.received, "the router delivered leads to the partner"
    assert sum(len(cells) for cells in tables.values()) > 1_000, "the databases hold what the calls wrote"
    assert log.getvalue().count("\n") > 1_000, "the access log saw the calls"
    assert hits([log.getvalue().encode("utf-8")]) == {}, "logs"
    assert hits(partner.received) == {}, "partner payloads"
    for name, cells in tables.items():
        assert hits(cells) == {}, f"{name} database"
