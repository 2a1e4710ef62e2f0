"""Benchmark harness: real servers in their own processes, load from other processes, and every result
reported as a ratio to a no-op grpc.aio handler measured in the same run.

Absolute numbers drift on shared machines; the ratio to the no-op (same machine, same minute) is what to
compare across runs. What the harness measures honestly (docs/benchmarks.md):

- servers run as `skylane serve` runs them by default: access log on (to a file), metrics on, log level
  info; `serve_service` starts them on port 0 and reads the ports they bound from their start-up line;
- only calls that end with grpc-status OK count: throughput is the server's own per-code counter
  (`skylane_grpc_requests_total{code="OK"}`, scraped from its metrics port) over the measuring window,
  not what the client believes; the no-op and the floor server count their calls the same way;
- the server's CPU (from /proc/<pid>/stat) and the load generator's CPU are measured over the same
  window, so a generator that saturates before the server does shows up;
- the Python load generator (`load`, below) runs as several processes (`drive_processes`), each with
  its own connection and distinct request bodies, closed-loop (N callers) or paced (open loop, latency
  measured from each call's scheduled start, so a stalled server is not hidden by a stalled client).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc

from services.registry import RESERVED_PORTS

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
    """A port the kernel calls free right now, outside RESERVED_PORTS."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in RESERVED_PORTS:
            return port


# --------------------------------------------------------------------------------------------- CPU


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (all its threads), from /proc/<pid>/stat; 0 once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 (state) is fields[0]
    return (int(fields[11]) + int(fields[12])) / _TICK


def children_of(pid: int) -> list[int]:
    """Direct children of pid (e.g. a PostgreSQL postmaster's backends)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        if int(raw[raw.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(entry.name))
    return found


# ----------------------------------------------------------------------------------------- servers


@dataclass
class Server:
    """A server process under measurement: where it listens, its pid, and where it counts its calls."""

    address: str
    pid: int
    metrics_port: int | None
    log: Path | None = None
    extra_pids: Callable[[], list[int]] = field(default=lambda: [])  # e.g. the database's processes

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def extra_cpu_seconds(self) -> dict[int, float]:
        """CPU so far of each helper process (by pid: backends come and go, so deltas are taken per pid)."""
        return {pid: cpu_seconds(pid) for pid in self.extra_pids()}

    def counts(self) -> dict[tuple[str, str], float]:
        """skylane_grpc_requests_total by (method, code), scraped now; empty without a metrics port."""
        if self.metrics_port is None:
            return {}
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as reply:
            text = reply.read().decode()
        return parse_request_counts(text)


_COUNT_LINE = re.compile(r"^skylane_grpc_requests_total\{([^}]*)\}\s+(\S+)", re.MULTILINE)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def parse_request_counts(text: str) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for labels, value in _COUNT_LINE.findall(text):
        found = dict(_LABEL.findall(labels))
        key = (found.get("method", ""), found.get("code", ""))
        counts[key] = counts.get(key, 0.0) + float(value)
    return counts


def _started_line(log: Path) -> dict[str, Any] | None:
    """The server's `service_started` JSON line (skylane serve and the bench servers both print one)."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if '"service_started"' in line:
            with contextlib.suppress(ValueError):
                found = json.loads(line)
                if isinstance(found, dict):
                    return found
    return None


def _wait_started(log: Path, process: subprocess.Popen[bytes], timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _started_line(log)
        if found is not None:
            return found
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise RuntimeError(f"server exited with {process.returncode} before it started:\n{tail}")
        time.sleep(0.1)
    raise TimeoutError(f"no service_started line in {log} after {timeout}s")


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


def _stop(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def serve_logged(args: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[Server]:
    """Runs a server that binds port 0 (and metrics port 0) and prints a `service_started` JSON line with
    `address` and `metrics_port` to stdout; stdout and stderr go to log. Yields it once healthy."""
    with open(log, "wb") as out:
        process = subprocess.Popen(args, env={**os.environ, **(env or {})}, cwd=REPO, stdout=out, stderr=out)
        try:
            started = _wait_started(log, process)
            address = "127.0.0.1:" + str(started["address"]).rpartition(":")[2]  # every server here binds 127.0.0.1
            _wait_healthy(address, process)
            metrics = started.get("metrics_port")
            yield Server(address, process.pid, int(metrics) if metrics else None, log)
        finally:
            _stop(process)


def skylane_serve_args(service: str, config_dir: Path, var_dir: Path, db_url: str | None = None) -> list[str]:
    """`skylane serve <service>` with its defaults (access log, metrics, log level info, config polling,
    grace) except where it listens (port 0: any free port, read back from its start-up line) and its files."""
    args = [sys.executable, "-m", "services.cli", "serve", service, "--port", "0", "--metrics-port", "0"]
    args += ["--config-dir", str(config_dir), "--var-dir", str(var_dir)]
    if db_url:
        args += ["--db-url", db_url]
    return args


@contextlib.contextmanager
def serve_service(
    service: str,
    config_path: Path | None = None,
    env: dict[str, str] | None = None,
    *,
    db_url: str | None = None,
    extra_pids: Callable[[], list[int]] | None = None,
) -> Iterator[Server]:
    """A real `skylane serve <service>` run as production runs it (see skylane_serve_args), on a fresh
    SQLite database (synchronous=FULL: durable) under a temporary directory unless db_url is given."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{service}-") as tmp:
        config_dir = Path(tmp) / "config"
        shutil.copytree(REPO / "config", config_dir)
        if config_path is not None:
            shutil.copy(config_path, config_dir / f"{service}.yaml")
        args = skylane_serve_args(service, config_dir, Path(tmp) / "var", db_url)
        with serve_logged(args, Path(tmp) / f"{service}.log", env) as server:
            if extra_pids is not None:
                server.extra_pids = extra_pids
            yield server


@contextlib.contextmanager
def service_process(service: str, config_path: Path | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """serve_service, yielding only its address (the per-service bench scripts use this)."""
    with serve_service(service, config_path, env) as server:
        yield server.address


@contextlib.contextmanager
def bench_server(module: str, *args: str) -> Iterator[Server]:
    """A bench-only server, `python -m <module> <args>`, which binds port 0 and reports its ports."""
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        name = module.rsplit(".", 1)[-1]
        with serve_logged([sys.executable, "-m", module, *args], Path(tmp) / f"{name}.log") as server:
            yield server


@contextlib.contextmanager
def module_process(module: str, *args: str) -> Iterator[str]:
    """A bench-only server, `python -m <module> <args> --port P`, on a free port until the block ends."""
    port = free_port()
    with tempfile.TemporaryFile() as log:  # its log lines (access log included) go to a file, as in serve_logged
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args, "--port", str(port)], cwd=REPO, stdout=log, stderr=log
        )
        try:
            _wait_healthy(f"127.0.0.1:{port}", process)
            yield f"127.0.0.1:{port}"
        finally:
            _stop(process)


@contextlib.contextmanager
def noop() -> Iterator[Server]:
    """A grpc.aio server whose only handler returns an empty message: the ceiling for any RPC. It counts
    its calls by status code like the services do, on a metrics port of its own."""
    with bench_server("bench.harness", "noop-server") as server:
        yield server


@contextlib.contextmanager
def noop_process() -> Iterator[str]:
    with noop() as server:
        yield server.address


async def noop_call(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    await channel.unary_unary(NOOP_METHOD)(b"")


class CallCounter:
    """skylane_grpc_requests_total{service,method,code} for the bench servers: plain ints on the hot path,
    turned into a Prometheus counter family only when scraped."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.counts: dict[tuple[str, str], int] = {}

    def add(self, method: str, code: str) -> None:
        key = (method, code)
        self.counts[key] = self.counts.get(key, 0) + 1

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        family = CounterMetricFamily(
            "skylane_grpc_requests", "gRPC calls by method and status code", labels=["service", "method", "code"]
        )
        for (method, code), value in list(self.counts.items()):
            family.add_metric([self.service, method, code], value)
        yield family

    def serve(self) -> int:
        """Starts the scrape endpoint (a daemon thread) on a free port; returns the port."""
        from prometheus_client import CollectorRegistry, start_http_server

        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        server, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
        return int(server.server_port)


def announce(port: int, metrics_port: int) -> None:
    """The start-up line serve_logged waits for (the same event skylane serve logs)."""
    line = {"event": "service_started", "address": f"127.0.0.1:{port}", "metrics_port": metrics_port}
    print(json.dumps(line), flush=True)


async def _noop_server(port: int) -> None:
    counter = CallCounter("noop")
    counts = counter.counts
    key = ("Call", "OK")
    counts[key] = 0

    async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        counts[key] += 1
        return b""

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "skylane.bench.Noop",
        {"Call": grpc.unary_unary_rpc_method_handler(call, request_deserializer=None, response_serializer=None)},
    )
    server.add_generic_rpc_handlers((handler,))
    from grpc_health.v1 import health, health_pb2_grpc

    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    announce(bound, counter.serve())
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await server.stop(1)


# ---------------------------------------------------------------------------------- load generator


class PoolExhausted(Exception):
    """Raised by a workload whose prepared pool (offers to claim, coupons to redeem) ran out: its caller
    stops, and the measurement is marked so the suite can redo it with a bigger pool."""


@dataclass
class ProcessResult:
    """What one load process measured over the window."""

    calls: int  # completed OK inside the window (as the client saw them)
    errors: int
    seconds: float
    cpu_seconds: float  # this process's CPU over the window (all threads)
    issued: int  # calls started inside the window
    late: int  # paced mode: calls that started more than 1 ms after their scheduled time
    first_error: str
    latencies_us: list[int]
    exhausted: bool = False


def drive(
    address: str,
    workload: str,
    *,
    concurrency: int = 32,
    seconds: float = 5.0,
    warmup: float = 1.0,
    prepare: str | None = None,
) -> Stats:
    """Runs the workload against address from one separate process and returns what it measured
    (the per-service bench scripts use this; the suite uses drive_processes)."""
    result = drive_processes(
        address, workload, processes=1, concurrency=concurrency, seconds=seconds, warmup=warmup, prepare=prepare
    )
    return Stats(
        result.client_ok,
        result.errors,
        result.seconds,
        result.client_ok / result.seconds if result.seconds else 0.0,
        result.p50_ms,
        result.p99_ms,
        result.first_error,
    )


@dataclass
class LoadResult:
    """One measurement of one workload against one server: the server's count of OK calls is the truth."""

    generator: str
    seconds: float
    ok: float  # OK calls counted by the server in the window (client_ok when the server has no counter)
    not_ok: dict[str, float]  # other codes the server counted in the window
    client_ok: int
    errors: int
    p50_ms: float
    p99_ms: float
    client_cpu: float  # cores (CPU seconds / window seconds), all load processes together
    server_cpu: float  # cores
    extra_cpu: float = 0.0  # cores of the server's helpers (PostgreSQL backends)
    offered: float | None = None  # paced: calls/s asked for
    late: int = 0
    first_error: str = ""
    notes: str = ""
    exhausted: bool = False  # a load process ran out of prepared work before the window ended

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def percentile(ordered: Sequence[float], p: float) -> float:
    return float(ordered[min(len(ordered) - 1, int(p * len(ordered)))]) if ordered else 0.0


class Sampler:
    """Server-side readings at the start and end of a window: CPU and per-code call counts."""

    def __init__(self, server: Server | None, method: str | None) -> None:
        self.server, self.method = server, method
        self.at: list[tuple[float, float, dict[int, float], dict[tuple[str, str], float]]] = []

    def sample(self) -> None:
        if self.server is None:
            self.at.append((time.monotonic(), 0.0, {}, {}))
            return
        counts = self.server.counts()
        self.at.append((time.monotonic(), self.server.cpu_seconds(), self.server.extra_cpu_seconds(), counts))

    def window(self) -> tuple[float, float, float, float | None, dict[str, float]]:
        """(seconds, server cores, extra cores, OK calls or None without a counter, other codes)."""
        (t0, c0, x0, n0), (t1, c1, x1, n1) = self.at[0], self.at[-1]
        seconds = t1 - t0
        # A helper that exited inside the window took its CPU with it (not counted); one that started inside
        # it counts from zero.
        extra = sum(used - x0.get(pid, 0.0) for pid, used in x1.items())
        if self.server is None or self.server.metrics_port is None or self.method is None:
            return seconds, 0.0, 0.0, None, {}
        delta = {code: n1.get((m, code), 0.0) - n0.get((m, code), 0.0) for (m, code) in n1 if m == self.method}
        ok = delta.pop("OK", 0.0)
        return seconds, (c1 - c0) / seconds, extra / seconds, ok, {k: v for k, v in delta.items() if v}


def drive_processes(
    address: str,
    workload: str,
    *,
    processes: int = 4,
    concurrency: int = 32,
    seconds: float = 5.0,
    warmup: float = 1.0,
    prepare: str | None = None,
    rate: float | None = None,
    server: Server | None = None,
    method: str | None = None,
    pool: int | None = None,
    connections: int = 1,
) -> LoadResult:
    """Runs the workload from `processes` load processes at once (each `connections` connections; concurrency
    and rate are totals, split between them), closed-loop or paced at `rate` calls/s, and measures one
    window of `seconds` after `warmup`: the server's OK count and CPU (when server and method are given)
    and every load process's CPU and latencies."""
    processes = max(1, processes)
    args = [sys.executable, "-m", "bench.harness", "load", "--address", address, "--workload", workload]
    args += ["--seconds", str(seconds), "--warmup", str(warmup), "--coordinated", "--connections", str(connections)]
    if prepare:
        args += ["--prepare", prepare]
    env = dict(os.environ)
    if pool is not None:
        env["BENCH_POOL"] = str(pool)
    children: list[subprocess.Popen[str]] = []
    try:
        for index in range(processes):
            share = concurrency // processes + (1 if index < concurrency % processes else 0)
            extra = ["--concurrency", str(max(1, share)), "--process-index", str(index)]
            if rate:
                extra += ["--rate", str(rate / processes)]
            children.append(
                subprocess.Popen(
                    [*args, *extra], cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
                )
            )
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"load process for {workload} did not get ready (exit {child.wait()}): {line!r}")
        start = time.monotonic() + 0.2
        for child in children:
            assert child.stdin is not None
            child.stdin.write(f"go {start!r}\n")
            child.stdin.flush()
        sampler = Sampler(server, method)
        _sleep_until(start + warmup)
        sampler.sample()
        _sleep_until(start + warmup + seconds)
        sampler.sample()
        results = []
        for child in children:
            out, _ = child.communicate(timeout=120 + seconds)
            if child.returncode != 0:
                raise RuntimeError(f"load process for {workload} failed ({child.returncode})")
            results.append(ProcessResult(**json.loads(out.strip().splitlines()[-1])))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    window, server_cpu, extra_cpu, ok, not_ok = sampler.window()
    latencies = sorted(x for r in results for x in r.latencies_us)
    client_ok = sum(r.calls for r in results)
    first_error = next((r.first_error for r in results if r.first_error), "")
    return LoadResult(
        generator=f"python grpc.aio x{processes} proc" + (" paced" if rate else f", {concurrency} callers"),
        seconds=window,
        ok=ok if ok is not None else client_ok * window / seconds,
        not_ok=not_ok,
        client_ok=client_ok,
        errors=sum(r.errors for r in results),
        p50_ms=percentile(latencies, 0.50) / 1000,
        p99_ms=percentile(latencies, 0.99) / 1000,
        client_cpu=sum(r.cpu_seconds for r in results) / seconds,
        server_cpu=server_cpu,
        extra_cpu=extra_cpu,
        offered=rate,
        late=sum(r.late for r in results),
        first_error=first_error,
        exhausted=any(r.exhausted for r in results),
    )


def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _cpu_now() -> float:
    times = os.times()
    return times.user + times.system


class _Load:
    """One load process's callers and what they measured over the window [start + warmup, + seconds]."""

    def __init__(
        self, workload: Workload, channels: list[grpc.aio.Channel], start: float, warmup: float, seconds: float
    ):
        self.workload, self.channels, self.start = workload, channels, start
        self.window_start = start + warmup
        self.window_end = self.window_start + seconds
        self.latencies: list[int] = []
        self.errors = self.issued = self.late = 0
        self.first_error = ""
        self.exhausted = False

    async def one(self, channel: grpc.aio.Channel, worker: int, seq: int, since: float) -> None:
        try:
            await self.workload(channel, worker, seq)
        except PoolExhausted:
            self.exhausted = True
            return
        except grpc.aio.AioRpcError as exc:
            if self.window_start <= time.monotonic() < self.window_end:
                self.errors += 1
                self.first_error = self.first_error or f"{exc.code().name}: {exc.details()}"
            return
        done = time.monotonic()
        if self.window_start <= done < self.window_end:
            self.latencies.append(int((done - since) * 1e6))

    async def closed_loop(self, index: int) -> None:
        """One caller: the next call as soon as the previous one ends."""
        channel = self.channels[index % len(self.channels)]
        seq = 0
        while (now := time.monotonic()) < self.window_end and not self.exhausted:
            self.issued += self.window_start <= now
            await self.one(channel, index, seq, now)
            seq += 1

    async def paced(self, per_second: float, callers: int) -> None:
        """Open loop: call i is due at start + i / rate whatever happened to earlier calls; its latency
        counts from when it was due, so a server (or client) that falls behind shows as latency."""
        running: set[asyncio.Task[None]] = set()
        i = 0
        while (due := self.start + i / per_second) < self.window_end and not self.exhausted:
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
                continue
            if due >= self.window_start:
                self.issued += 1
                self.late += now - due > 0.001
            task = asyncio.create_task(self.one(self.channels[i % len(self.channels)], i % callers, i, due))
            running.add(task)
            task.add_done_callback(running.discard)
            i += 1
        if running:
            await asyncio.wait(running, timeout=30)
        await asyncio.sleep(max(0.0, self.window_end - time.monotonic()))  # the window's CPU reading


async def _run_load(
    address: str,
    workload: Workload,
    concurrency: int,
    seconds: float,
    warmup: float,
    prepare: Callable[[grpc.aio.Channel], Awaitable[None]] | None,
    connections: int = 1,
    *,
    rate: float | None = None,
    go: Callable[[], float] | None = None,
) -> ProcessResult:
    # A local subchannel pool per channel: each channel is its own TCP connection, so a server running
    # several processes on one port (SO_REUSEPORT) gets its share of the load.
    channels = [
        grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(connections)
    ]
    for each in channels:
        await each.channel_ready()
    if prepare is not None:
        await prepare(channels[0])
    loop = asyncio.get_running_loop()
    start = await loop.run_in_executor(None, go) if go is not None else time.monotonic()
    await asyncio.sleep(max(0.0, start - time.monotonic()))
    load = _Load(workload, channels, start, warmup, seconds)
    cpu: list[float] = []
    loop.call_at(load.window_start, lambda: cpu.append(_cpu_now()))
    loop.call_at(load.window_end, lambda: cpu.append(_cpu_now()))
    if rate:
        await load.paced(rate, max(1, concurrency))
    else:
        await asyncio.gather(*(load.closed_loop(i) for i in range(concurrency)))
    for each in channels:
        await each.close()
    load.latencies.sort()
    used = cpu[1] - cpu[0] if len(cpu) == 2 else 0.0
    return ProcessResult(
        len(load.latencies),
        load.errors,
        seconds,
        used,
        load.issued,
        load.late,
        load.first_error,
        load.latencies,
        load.exhausted,
    )


def _wait_for_go() -> float:
    """Coordinated mode: tell the driver we are prepared, then wait for `go <monotonic start>`."""
    print("ready", flush=True)
    line = sys.stdin.readline().split()
    if len(line) != 2 or line[0] != "go":
        raise SystemExit(f"expected 'go <start>', got {line!r}")
    return float(line[1])


def main() -> None:
    parser = argparse.ArgumentParser(description="benchmark harness internals (used via drive_processes()/noop())")
    sub = parser.add_subparsers(dest="command", required=True)
    noop_parser = sub.add_parser("noop-server")
    noop_parser.add_argument("--port", type=int, default=0)
    load = sub.add_parser("load")
    load.add_argument("--address", required=True)
    load.add_argument("--workload", required=True)
    load.add_argument("--prepare")
    load.add_argument("--concurrency", type=int, default=32)
    load.add_argument("--seconds", type=float, default=5.0)
    load.add_argument("--warmup", type=float, default=1.0)
    # Several TCP connections, so a server of several processes on one port (SO_REUSEPORT) shares the load.
    load.add_argument("--connections", type=int, default=1)
    load.add_argument("--rate", type=float, default=0.0, help="paced: calls/s from this process (0: closed loop)")
    load.add_argument("--coordinated", action="store_true", help="print 'ready' after prepare, wait for 'go T'")
    load.add_argument("--process-index", type=int, default=0)
    args = parser.parse_args()
    if args.command == "noop-server":
        asyncio.run(_noop_server(args.port))
        return
    os.environ["BENCH_PROCESS_INDEX"] = str(args.process_index)
    result = asyncio.run(
        _run_load(
            args.address,
            _load(args.workload),
            args.concurrency,
            args.seconds,
            args.warmup,
            _load(args.prepare) if args.prepare else None,
            args.connections,
            rate=args.rate or None,
            go=_wait_for_go if args.coordinated else None,
        )
    )
    print(json.dumps(asdict(result)))


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


if __name__ == "__main__":
    # Run as bench.harness, not as __main__: workloads import PoolExhausted from bench.harness, and the load
    # loop must catch that class, not a second copy of it defined in __main__.
    from bench import harness

    harness.main()
