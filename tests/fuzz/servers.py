"""The three servers, in this process, on one engine, with their default configs and a log of every
unexpected server-side exception (by request id) so each INTERNAL/UNKNOWN comes with its cause."""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.common.logging import configure_logging
from services.registry import SERVICES
from tests.fuzz import catalog
from tests.fuzz.values import Pools
from tests.helpers import REPO, Harness, db_target_for, running_service

# The default router config calls partner lenders on 127.0.0.1:5006x; port 1 refuses at once instead.
CLOSED_ENDPOINT = "127.0.0.1:1"
CHANNEL_OPTIONS = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]


@dataclass
class ServerLog:
    """Collects server-side errors: structlog JSON lines (keyed by request id) and stdlib log records."""

    by_request: dict[str, str] = field(default_factory=dict)
    other: list[str] = field(default_factory=list)

    def structlog_stream(self) -> io.TextIOBase:
        log = self

        class Stream(io.TextIOBase):
            def write(self, text: str) -> int:
                for line in text.splitlines():
                    log.record_json(line)
                return len(text)

        return Stream()

    def record_json(self, line: str) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return
        cause = cause_of(event)
        request_id = str(event.get("request_id", ""))
        if request_id:
            self.by_request[request_id] = cause
        else:
            self.other.append(cause)


def cause_of(event: dict[str, Any]) -> str:
    """`RootType: message @ services/x.py:123` from a structlog event with a dict traceback: the root
    cause's message, and the innermost frame of our code in the exception that reached the handler."""
    chain = event.get("exception")
    if not isinstance(chain, list) or not chain:
        return str(event.get("event", ""))
    root = chain[-1]  # structlog lists the logged exception first, its causes after it
    where = ""
    for exc in chain:
        ours = [f for f in exc.get("frames", []) if "/services/" in f.get("filename", "")]
        if ours:  # function names are not shown: the log's masking treats a frame's "name" as personal
            frame = ours[-1]
            where = f" @ services/{frame['filename'].rsplit('/services/', 1)[-1]}:{frame['lineno']}"
            break
    value = " ".join(str(root.get("exc_value", "")).split())[:200]
    return f"{root.get('exc_type', '?')}: {value}{where}"


class _StdlibCollector(logging.Handler):
    """grpc's own errors (a deserializer or a servicer raising outside our interceptors) go here."""

    def __init__(self, log: ServerLog) -> None:
        super().__init__(logging.ERROR)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        detail = ""
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            detail = f" | {type(exc).__name__}: {str(exc)[:120]}"
        self.log.other.append(f"{record.name}: {record.getMessage()[:160]}{detail}")


@dataclass
class Server:
    name: str
    harness: Harness
    channel: Any  # grpc.aio.Channel with no message size limits
    pools: Pools
    methods: list[catalog.Method]
    metadata: tuple[tuple[str, str], ...] = ()


def write_config(name: str, directory: Path) -> tuple[Path, str, Any]:
    """The default config of a service, with partner endpoints pointing at a closed port."""
    text = (REPO / "config" / f"{name}.yaml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    lenders = (document.get("partners") or {}).get("lenders", [])
    if lenders:
        for lender in lenders:
            lender["endpoint"] = CLOSED_ENDPOINT
        text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text, document


async def served_services(channel: Any) -> set[str]:
    """Full names of the descriptor services this server reports SERVING in health."""
    stub = health_pb2_grpc.HealthStub(channel)
    served = set()
    for service in catalog.services():
        try:
            reply = await stub.Check(health_pb2.HealthCheckRequest(service=service.full_name), timeout=5)
        except grpc.aio.AioRpcError:
            continue
        if reply.status == health_pb2.HealthCheckResponse.SERVING:
            served.add(service.full_name)
    return served


def auth_metadata(pools: Pools, rng: random.Random) -> tuple[tuple[str, str], ...]:
    """A partner token from the config, so postbacks get past authentication to their validation."""
    tokens = pools.config.get("token", [])
    return (("authorization", f"Bearer {rng.choice(tokens)}"),) if tokens else ()


def capture_server_errors(log: ServerLog) -> None:
    configure_logging("error", stream=log.structlog_stream())
    logging.getLogger().addHandler(_StdlibCollector(log))


@asynccontextmanager
async def fuzz_servers(engine: str, directory: Path, rng: random.Random) -> AsyncIterator[list[Server]]:
    """Router, growth and rewards (as listed in services/registry.py) on `engine`, each with its own channel."""
    async with AsyncExitStack() as stack:
        servers = []
        for name, entry in SERVICES.items():
            config_path, text, document = write_config(name, directory)
            target = await stack.enter_async_context(db_target_for(engine, directory, name))
            harness = await stack.enter_async_context(running_service(entry.build, target, config_path))
            channel = grpc.aio.insecure_channel(harness.service.address, options=CHANNEL_OPTIONS)
            stack.push_async_callback(channel.close)
            pools = Pools.from_config(document, text, harness.clock.now(), rng)
            methods = catalog.methods_for(name, await served_services(channel))
            servers.append(Server(name, harness, channel, pools, methods, auth_metadata(pools, rng)))
        yield servers
