"""Every log line names its service, also when several services share one process (`skylane serve all`):
start-up, calls (a refused one with its status and reason), background tasks, SIGHUP reloads, shutdown."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import MetaData

from services.common.app import ServiceApp, Worker
from services.common.clock import ManualClock
from services.common.config import ConfigStore, Schema
from services.common.db import Database
from services.common.errors import FailedPrecondition
from services.common.logging import configure_logging, service_context
from services.common.server import ServerOptions, serve_until_signalled
from skylane.common.v1 import admin_pb2, admin_pb2_grpc

log = structlog.get_logger("test.worker")


class _Note(Schema):
    note: str = ""


class LoggingApp(ServiceApp):
    """Admin, one refusing method and one worker that logs once; no schema (nothing here writes)."""

    def __init__(self, name: str, tmp_path: Path) -> None:
        self.name = name
        config_path = tmp_path / f"{name}.yaml"
        config_path.write_text("note: v1\n")
        super().__init__(
            config=ConfigStore(config_path, _Note),
            db=Database(f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}"),
            clock=ManualClock(),
            metadata=MetaData(),
            migrations=tmp_path,
        )

    async def start(self) -> None:
        return None

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        async def refuse(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            raise FailedPrecondition("INSUFFICIENT_POINTS", "needs 500 points, has 20", subject="member:m1")

        server.add_registered_method_handlers("test.Logs", {"Refuse": grpc.unary_unary_rpc_method_handler(refuse)})
        return ["test.Logs"]

    def workers(self) -> list[Worker]:
        async def tick() -> None:
            log.info("worker_tick")
            await asyncio.Event().wait()

        return [tick]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_serving(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        for _ in range(200):
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError(address)


async def _wait_for(stream: io.StringIO, event: str, count: int) -> None:
    for _ in range(200):
        if stream.getvalue().count(f'"event": "{event}"') >= count:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(event)


async def test_two_services_in_one_process_log_under_their_own_names(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging("info", stream=stream, cache=False)
    try:
        apps = {name: LoggingApp(name, tmp_path) for name in ("alpha", "beta")}
        ports = {name: _free_port() for name in apps}
        options = {
            name: ServerOptions(port=ports[name], metrics_port=None, config_poll_seconds=None, access_log=True)
            for name in apps
        }
        serving = asyncio.create_task(serve_until_signalled([(app, options[name]) for name, app in apps.items()]))
        for port in ports.values():
            await _wait_serving(f"127.0.0.1:{port}")  # signal handlers are installed before any service starts
        await _wait_for(stream, "worker_tick", 2)

        async with grpc.aio.insecure_channel(f"127.0.0.1:{ports['alpha']}") as channel:
            await admin_pb2_grpc.AdminStub(channel).Probe(admin_pb2.ProbeRequest())
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ports['beta']}") as channel:
            try:
                await channel.unary_unary("/test.Logs/Refuse")(b"")
            except grpc.aio.AioRpcError as exc:
                assert exc.code() == grpc.StatusCode.FAILED_PRECONDITION

        for app in apps.values():
            app.config.path.write_text("note: v2\n")
        os.kill(os.getpid(), signal.SIGHUP)  # reload_all: every service's config, each in its own context
        await _wait_for(stream, "config_reloaded", 2)
        os.kill(os.getpid(), signal.SIGTERM)
        assert await asyncio.wait_for(serving, 30) == 0
    finally:
        configure_logging("warning", cache=False)

    lines: list[dict[str, Any]] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines and all(line.get("service") in apps for line in lines), [
        line for line in lines if line.get("service") not in apps
    ]

    def events(name: str, service: str) -> list[dict[str, Any]]:
        return [line for line in lines if line["event"] == name and line["service"] == service]

    for service in apps:
        for name in ("service_started", "worker_tick", "config_reloaded", "shutdown_requested", "service_stopped"):
            assert len(events(name, service)) == 1, (service, name)
    # Health checks run behind the edge too, so the start-up's readiness checks have lines of their own.
    (probe,) = [line for line in events("rpc", "alpha") if line["method"] == "/skylane.common.v1.Admin/Probe"]
    assert probe["code"] == "OK"
    (refused,) = [line for line in events("rpc", "beta") if line["method"] == "/test.Logs/Refuse"]
    assert (refused["code"], refused["reason"]) == ("FAILED_PRECONDITION", "INSUFFICIENT_POINTS")


def test_service_context_restores_the_outer_binding() -> None:
    stream = io.StringIO()
    configure_logging("info", stream=stream, cache=False)
    try:
        with service_context("alpha"):
            with service_context("beta"):
                log.info("inner")
            log.info("outer")
        log.info("none")
    finally:
        configure_logging("warning", cache=False)
    inner, outer, none = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (inner["service"], outer["service"]) == ("beta", "alpha")
    assert "service" not in none
