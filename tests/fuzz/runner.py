"""Drives the calls: round-robin over every (server, method), each cycling through its mutations, with
a fixed number in flight; records every status code, the slow calls and the server health."""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.fuzz.catalog import Method
from tests.fuzz.mutations import Mutations
from tests.fuzz.servers import Server, ServerLog, capture_server_errors, fuzz_servers
from tests.fuzz.stalls import StallWatch
from tests.fuzz.values import Filler

SLOW_SECONDS = 2.0
FAILING_CODES = frozenset({"INTERNAL", "UNKNOWN"})
DEADLINE_SECONDS = 15.0  # far above SLOW_SECONDS: a hung call is reported, not waited for forever
HEALTH_EVERY_SECONDS = 1.0
HEALTH_TIMEOUT_SECONDS = 5.0
KEEP_SLOWEST = 15
WARMUP_ROUNDS = 3


@dataclass(frozen=True, order=True)
class Outcome:
    seconds: float
    started: float
    method: str
    mutation: str
    where: str
    code: str
    details: str
    request_id: str
    size: int


@dataclass
class Results:
    engine: str
    seed: int
    calls: int = 0
    elapsed: float = 0.0
    codes: dict[str, Counter[str]] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    failures: list[Outcome] = field(default_factory=list)
    slow: list[Outcome] = field(default_factory=list)
    slowest: list[Outcome] = field(default_factory=list)  # a min-heap of the KEEP_SLOWEST slowest
    unhealthy: list[str] = field(default_factory=list)
    alive: dict[str, bool] = field(default_factory=dict)
    causes: dict[str, str] = field(default_factory=dict)
    grpc_errors: list[str] = field(default_factory=list)
    stalls: StallWatch = field(default_factory=StallWatch)

    def record(self, outcome: Outcome) -> None:
        self.calls += 1
        self.codes.setdefault(outcome.method, Counter())[outcome.code] += 1
        self.latencies.setdefault(outcome.method, []).append(outcome.seconds)
        if outcome.code in FAILING_CODES:
            self.failures.append(outcome)
        if outcome.seconds > SLOW_SECONDS:
            self.slow.append(outcome)
        if len(self.slowest) < KEEP_SLOWEST:
            heapq.heappush(self.slowest, outcome)
        elif outcome.seconds > self.slowest[0].seconds:
            heapq.heapreplace(self.slowest, outcome)

    @property
    def crashed(self) -> list[str]:
        return [name for name, alive in self.alive.items() if not alive]

    @property
    def passed(self) -> bool:
        return not (self.failures or self.slow or self.unhealthy or self.crashed)


@dataclass
class Target:
    server: Server
    method: Method
    mutations: Mutations
    stub: Any  # a bytes-in, bytes-out unary callable


def targets_of(servers: list[Server]) -> list[Target]:
    out = []
    for server in servers:
        for method in server.methods:
            # No serializers: bodies go out as the bytes the mutation produced, answers come back as bytes.
            stub = server.channel.unary_unary(method.path, request_serializer=None, response_deserializer=None)
            out.append(Target(server, method, Mutations(method.request_type.DESCRIPTOR), stub))
    return out


def plan(targets: list[Target], calls: int, rng: random.Random) -> Iterator[tuple[Target, str]]:
    """`calls` jobs: round-robin over the targets (shuffled each round); each target walks its own
    shuffled cycle of mutations, so even a short run gives every method every mutation once.

    The first rounds are unmutated: members get enrolled, offers made, holds placed, and their ids
    harvested, so the mutated calls that follow reach past NOT_FOUND into the real code paths."""
    cycles: dict[int, list[str]] = {}
    order = list(range(len(targets)))
    for n in range(calls):
        if n % len(targets) == 0:
            rng.shuffle(order)
        index = order[n % len(targets)]
        if n < WARMUP_ROUNDS * len(targets):
            yield targets[index], "valid"
            continue
        if not cycles.get(index):
            cycles[index] = rng.sample(targets[index].mutations.names, len(targets[index].mutations.names))
        yield targets[index], cycles[index].pop()


class Driver:
    def __init__(self, results: Results, rng: random.Random) -> None:
        self.results, self.rng = results, rng
        self.fillers: dict[str, Filler] = {}
        self.sequence = 0

    def filler(self, server: Server) -> Filler:
        if server.name not in self.fillers:
            self.fillers[server.name] = Filler(server.pools, self.rng)
        return self.fillers[server.name]

    async def worker(self, jobs: Iterator[tuple[Target, str]], progress: Callable[[int], None] | None) -> None:
        for target, mutation in jobs:
            await self.call(target, mutation)
            if progress is not None:
                progress(self.results.calls)

    async def call(self, target: Target, mutation: str) -> None:
        filler = self.filler(target.server)
        request = filler.fill(target.method.request_type())
        call = target.mutations.apply(mutation, request, filler, self.rng)
        self.sequence += 1
        request_id = f"fz{self.sequence:08d}"
        metadata = (("x-request-id", request_id), *target.server.metadata)
        started = time.perf_counter()
        try:
            reply = await target.stub(call.body, timeout=DEADLINE_SECONDS, metadata=metadata)
            code, details = "OK", ""
        except grpc.aio.AioRpcError as error:
            reply, code, details = None, error.code().name, error.details() or ""
        seconds = time.perf_counter() - started
        if reply is not None:
            target.server.pools.harvest(target.method.response_type.FromString(reply))
        label, size = target.method.label, len(call.body)
        self.results.record(
            Outcome(seconds, started, label, call.mutation, call.where, code, details, request_id, size)
        )


async def check_health(server: Server) -> str:
    """'' when the server answers SERVING within HEALTH_TIMEOUT_SECONDS, else what went wrong."""
    stub = health_pb2_grpc.HealthStub(server.channel)
    try:
        reply = await stub.Check(health_pb2.HealthCheckRequest(), timeout=HEALTH_TIMEOUT_SECONDS)
    except grpc.aio.AioRpcError as error:
        return f"{error.code().name}: {error.details()}"
    return "" if reply.status == health_pb2.HealthCheckResponse.SERVING else f"status {reply.status}"


async def watch_health(servers: list[Server], results: Results, stop: asyncio.Event) -> None:
    while not stop.is_set():
        for server in servers:
            problem = await check_health(server)
            if problem:
                results.unhealthy.append(f"{server.name} after {results.calls} calls: {problem}")
        try:
            await asyncio.wait_for(stop.wait(), HEALTH_EVERY_SECONDS)
        except TimeoutError:
            pass


async def fuzz(
    engine: str,
    directory: Path,
    *,
    seed: int,
    calls: int = 0,
    per_method: int = 0,
    concurrency: int = 16,
    progress: Callable[[int], None] | None = None,
) -> Results:
    """Runs fuzzed calls (`calls` in all, or `per_method` for each method found) against router, growth
    and rewards on `engine`; returns what happened."""
    rng = random.Random(seed)
    results = Results(engine, seed)
    log = ServerLog()
    saved = structlog.get_config()
    root_handlers = list(logging.getLogger().handlers)
    capture_server_errors(log)
    try:
        async with fuzz_servers(engine, directory, rng) as servers:
            targets = targets_of(servers)
            total = calls or per_method * len(targets)
            await _drive(servers, targets, results, rng, total, concurrency, progress)
    finally:
        structlog.configure(**saved)  # the caller's logging, as it was
        logging.getLogger().handlers[:] = root_handlers
    results.causes, results.grpc_errors = log.by_request, log.other
    return results


async def _drive(
    servers: list[Server],
    targets: list[Target],
    results: Results,
    rng: random.Random,
    calls: int,
    concurrency: int,
    progress: Callable[[int], None] | None,
) -> None:
    for target in targets:
        results.codes[target.method.label] = Counter()
    driver = Driver(results, rng)
    jobs = plan(targets, calls, rng)  # one generator shared by the workers: each job is taken once
    stop = asyncio.Event()
    monitor = asyncio.create_task(watch_health(servers, results, stop))
    stall_watch = asyncio.create_task(results.stalls.run())
    started = time.perf_counter()
    try:
        await asyncio.gather(*(driver.worker(jobs, progress) for _ in range(concurrency)))
    finally:
        results.elapsed = time.perf_counter() - started
        stop.set()
        await monitor
        stall_watch.cancel()
        await asyncio.gather(stall_watch, return_exceptions=True)
    for server in servers:
        results.alive[server.name] = not await check_health(server)
