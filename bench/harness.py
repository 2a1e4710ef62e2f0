"""Benchmark harness: real servers in their own processes, load from another process, and every
result reported as a ratio to a no-op grpc.aio handler measured in the same run.

Absolute numbers drift on shared machines; the ratio to the no-op (same machine, same minute, same
load generator) is what to compare across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
NOOP_METHOD = "/skylane.bench.Noop/Call"

Workload = Callable[[grpc.aio.Channel, int, int], Awaitable[None]]


@dataclass
class Stats:
    calls: int
    errors: int
    seconds: float
    throughput: float
    p50_ms: float
    p99_ms: float
    first_error: str = ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(address: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        with grpc.insecure_channel(address) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
        time.sleep(0.2)
    raise TimeoutError(f"{address} not healthy after {timeout}s")


@contextlib.contextmanager
def _process(args: list[str], address: str, env: dict[str, str] | None = None) -> Iterator[str]:
    process = subprocess.Popen(args, env={**os.environ, **(env or {})}, cwd=REPO)
    try:
        _wait_healthy(address, process)
        yield address
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def service_process(service: str, config_path: Path | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """A real `skylane serve <service>` on a fresh SQLite database (synchronous=FULL: durable)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{service}-") as tmp:
        config_dir = Path(tmp) / "config"
        shutil.copytree(REPO / "config", config_dir)
        if config_path is not None:
            shutil.copy(config_path, config_dir / f"{service}.yaml")
        port = free_port()
        args = [
            sys.executable,
            "-m",
            "services.cli",
            "serve",
            service,
            "--port",
            str(port),
            "--no-metrics",
            "--no-access-log",
            "--log-level",
            "warning",
            "--config-dir",
            str(config_dir),
            "--var-dir",
            str(Path(tmp) / "var"),
            "--grace",
            "2",
        ]
        with _process(args, f"127.0.0.1:{port}", env) as address:
            yield address


@contextlib.contextmanager
def module_process(module: str, *args: str) -> Iterator[str]:
    """A bench-only server, `python -m <module> <args> --port P`, on a free port until the block ends."""
    port = free_port()
    with _process([sys.executable, "-m", module, *args, "--port", str(port)], f"127.0.0.1:{port}") as address:
        yield address


@contextlib.contextmanager
def noop_process() -> Iterator[str]:
    """A grpc.aio server whose only handler returns an empty message: the ceiling for any RPC."""
    with module_process("bench.harness", "noop-server") as address:
        yield address


async def noop_call(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    await channel.unary_unary(NOOP_METHOD)(b"")


def drive(
    address: str,
    workload: str,
    *,
    concurrency: int = 32,
    seconds: float = 5.0,
    warmup: float = 1.0,
    prepare: str | None = None,
) -> Stats:
    """Runs the workload against address from a separate process and returns what it measured."""
    args = [
        sys.executable,
        "-m",
        "bench.harness",
        "load",
        "--address",
        address,
        "--workload",
        workload,
        "--concurrency",
        str(concurrency),
        "--seconds",
        str(seconds),
        "--warmup",
        str(warmup),
    ]
    if prepare:
        args += ["--prepare", prepare]
    done = subprocess.run(args, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"load generator for {workload} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return Stats(**json.loads(done.stdout.strip().splitlines()[-1]))


def report(title: str, baseline: Stats, rows: list[tuple[str, Stats]], notes: dict[str, Any] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{title} (ratio = throughput / no-op throughput, same run)")
    for column in ("workload", "calls/s", "ratio", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right" if column != "workload" else "left")
    for label, stats in [("no-op grpc.aio handler", baseline), *rows]:
        table.add_row(
            label,
            f"{stats.throughput:,.0f}",
            f"{stats.throughput / baseline.throughput:.2f}" if baseline.throughput else "-",
            f"{stats.p50_ms:.2f}",
            f"{stats.p99_ms:.2f}",
            str(stats.errors) + (f" ({stats.first_error[:60]})" if stats.errors else ""),
        )
    Console().print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "title": title,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "baseline": asdict(baseline),
        "rows": [
            {"label": label, "ratio": s.throughput / baseline.throughput if baseline.throughput else None, **asdict(s)}
            for label, s in rows
        ],
        "notes": notes or {},
    }
    path = RESULTS / f"{title.lower().replace(' ', '_')}.json"
    path.write_text(json.dumps(payload, indent=2))
    print(f"results written to {path.relative_to(REPO)}")


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


async def _run_load(
    address: str,
    workload: Workload,
    concurrency: int,
    seconds: float,
    warmup: float,
    prepare: Callable[[grpc.aio.Channel], Awaitable[None]] | None,
    connections: int = 1,
) -> Stats:
    # A local subchannel pool per channel: each channel is its own TCP connection, so a server running
    # several processes on one port (SO_REUSEPORT) gets its share of the load.
    channels = [
        grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(connections)
    ]
    for each in channels:
        await each.channel_ready()
    channel = channels[0]
    if prepare is not None:
        await prepare(channel)
    latencies: list[float] = []
    errors = 0
    first_error = ""
    measuring = False
    stop_at = time.perf_counter() + warmup + seconds

    async def worker(index: int) -> None:
        nonlocal errors, first_error
        channel = channels[index % len(channels)]
        seq = 0
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                await workload(channel, index, seq)
                if measuring:
                    latencies.append(time.perf_counter() - started)
            except grpc.aio.AioRpcError as exc:
                if measuring:
                    errors += 1
                    first_error = first_error or f"{exc.code().name}: {exc.details()}"
            seq += 1

    async def flip() -> None:
        nonlocal measuring
        await asyncio.sleep(warmup)
        measuring = True

    flipper = asyncio.create_task(flip())
    began = time.perf_counter() + warmup
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    await flipper
    elapsed = time.perf_counter() - began
    for each in channels:
        await each.close()
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0.0

    return Stats(len(ordered), errors, elapsed, len(ordered) / elapsed, pct(0.50), pct(0.99), first_error)


async def _noop_server(port: int) -> None:
    async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return b""

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "skylane.bench.Noop",
        {"Call": grpc.unary_unary_rpc_method_handler(call, request_deserializer=None, response_serializer=None)},
    )
    server.add_generic_rpc_handlers((handler,))
    from grpc_health.v1 import health, health_pb2_grpc

    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(1)


def main() -> None:
    parser = argparse.ArgumentParser(description="benchmark harness internals (used via drive()/noop_process())")
    sub = parser.add_subparsers(dest="command", required=True)
    noop = sub.add_parser("noop-server")
    noop.add_argument("--port", type=int, required=True)
    load = sub.add_parser("load")
    load.add_argument("--address", required=True)
    load.add_argument("--workload", required=True)
    load.add_argument("--prepare")
    load.add_argument("--concurrency", type=int, default=32)
    load.add_argument("--seconds", type=float, default=5.0)
    load.add_argument("--warmup", type=float, default=1.0)
    # Several TCP connections, so a server of several processes on one port (SO_REUSEPORT) shares the load.
    load.add_argument("--connections", type=int, default=1)
    args = parser.parse_args()
    if args.command == "noop-server":
        asyncio.run(_noop_server(args.port))
        return
    stats = asyncio.run(
        _run_load(
            args.address,
            _load(args.workload),
            args.concurrency,
            args.seconds,
            args.warmup,
            _load(args.prepare) if args.prepare else None,
            args.connections,
        )
    )
    print(json.dumps(asdict(stats)))


if __name__ == "__main__":
    main()
