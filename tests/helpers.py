"""Test harness: real services on real sockets (port 0) over a real SQLite file or PostgreSQL schema."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy.engine import make_url

from services.common.app import ServiceApp
from services.common.clock import ManualClock
from services.common.server import RunningService, ServerOptions, start_service
from services.common.settings import AppSettings
from skylane.common.v1 import types_pb2

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("SKYLANE_TEST_POSTGRES_URL", "")
ENGINES = ["sqlite", *(["postgres"] if POSTGRES_URL else [])]


@dataclass
class DbTarget:
    """Where one service's database lives for one test."""

    engine: str
    url: str
    schema: str | None = None


@dataclass
class Harness:
    service: RunningService
    channel: grpc.aio.Channel
    clock: ManualClock
    config_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def app(self) -> Any:
        return self.service.app

    def write_config(self, text: str) -> None:
        self.config_path.write_text(text, encoding="utf-8")


def key(value: str | None = None) -> types_pb2.IdempotencyKey:
    return types_pb2.IdempotencyKey(value=value or uuid.uuid4().hex)


async def create_pg_schema() -> str:
    import asyncpg

    schema = f"t_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(_asyncpg_dsn())
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    return schema


async def drop_pg_schema(schema: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn())
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def _asyncpg_dsn() -> str:
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def db_target_for(engine: str, directory: Path, name: str) -> AsyncIterator[DbTarget]:
    if engine == "sqlite":
        yield DbTarget("sqlite", f"sqlite+aiosqlite:///{directory / f'{name}.db'}")
        return
    schema = await create_pg_schema()
    try:
        yield DbTarget("postgres", POSTGRES_URL, schema)
    finally:
        await drop_pg_schema(schema)


@asynccontextmanager
async def running_service(
    build: Callable[[AppSettings], ServiceApp],
    target: DbTarget,
    config_path: Path,
    *,
    clock: ManualClock | None = None,
    environ: dict[str, str] | None = None,
    options: ServerOptions | None = None,
) -> AsyncIterator[Harness]:
    clock = clock or ManualClock()
    settings = AppSettings(
        config_path=config_path,
        db_url=target.url,
        clock=clock,
        environ=environ or {},
        db_schema=target.schema,
        sqlite_synchronous="NORMAL",
    )
    app = build(settings)
    service = await start_service(
        app, options or ServerOptions(port=0, metrics_port=None, config_poll_seconds=None, access_log=False)
    )
    channel = grpc.aio.insecure_channel(service.address)
    try:
        yield Harness(service, channel, clock, config_path)
    finally:
        await channel.close()
        await service.stop(grace=1.0)


def rich_details(error: grpc.aio.AioRpcError) -> list[Any]:
    """Unpacks google.rpc details (BadRequest, PreconditionFailure, ...) from an error."""
    from google.rpc import error_details_pb2, status_pb2

    raw = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    if raw is None:
        return []
    status = status_pb2.Status.FromString(raw)
    kinds = [
        error_details_pb2.BadRequest,
        error_details_pb2.PreconditionFailure,
        error_details_pb2.QuotaFailure,
        error_details_pb2.ResourceInfo,
        error_details_pb2.ErrorInfo,
    ]
    out = []
    for detail in status.details:
        for kind in kinds:
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                out.append(message)
    return out


def field_violations(error: grpc.aio.AioRpcError) -> dict[str, str]:
    from google.rpc import error_details_pb2

    return {
        v.field: v.description
        for d in rich_details(error)
        if isinstance(d, error_details_pb2.BadRequest)
        for v in d.field_violations
    }


def error_reason(error: grpc.aio.AioRpcError) -> str:
    from google.rpc import error_details_pb2

    return next((d.reason for d in rich_details(error) if isinstance(d, error_details_pb2.ErrorInfo)), "")


async def wait_serving(
    address: str, process: subprocess.Popen[bytes], credentials: grpc.ChannelCredentials | None = None
) -> None:
    """Until a service started as its own process answers health checks (over TLS with credentials)."""
    deadline = time.monotonic() + 60
    channel = (
        grpc.aio.insecure_channel(address) if credentials is None else grpc.aio.secure_channel(address, credentials)
    )
    async with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert process.poll() is None, "server exited during start-up"
            try:
                if (await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)).status == 1:
                    return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.2)
    raise TimeoutError(address)


def serve_args(tmp_path: Path, service: str, port: int, *extra: str) -> list[str]:
    """`skylane serve <service>` on port, with a copy of the default config and SQLite under tmp_path."""
    config_dir = tmp_path / "config"
    if not config_dir.exists():
        shutil.copytree(REPO / "config", config_dir)
    return [
        sys.executable,
        "-m",
        "services.cli",
        "serve",
        service,
        "--port",
        str(port),
        "--no-metrics",
        "--config-dir",
        str(config_dir),
        "--var-dir",
        str(tmp_path / "var"),
        "--config-poll",
        "0",
        *extra,
    ]


def write_markets(script: str, seed: int, out: Path) -> list[Path]:
    """Runs scripts/<script> --seed SEED --out OUT as a user would and returns the files it wrote."""
    done = subprocess.run(
        [sys.executable, f"scripts/{script}", "--seed", str(seed), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return [Path(line) for line in done.stdout.split()]


def reproducible_markets(script: str, tmp_path: Path, kinds: set[str]) -> list[Path]:
    """The markets of one seed, after checking that the script writes one file per kind, the same files
    again for the same seed and other files for another seed."""
    first = write_markets(script, 7, tmp_path / "a")
    again = write_markets(script, 7, tmp_path / "b")
    other = write_markets(script, 8, tmp_path / "c")
    assert {p.name.rsplit("-", 1)[0] for p in first} == kinds
    for p, q, r in zip(first, again, other, strict=True):
        assert p.read_text(encoding="utf-8") == q.read_text(encoding="utf-8")
        assert p.read_text(encoding="utf-8") != r.read_text(encoding="utf-8")
    return first
