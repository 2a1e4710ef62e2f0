"""Events benchmark (not a test): outside-event ingest, event-to-effect latency, and what the outbox costs.

1. **Ingest throughput.** IngestEvents against `skylane serve growth`, single events and batches of 100,
   from driver processes with concurrent callers: accepted events per second.
2. **Event-to-effect latency at a steady 200 events/s.** RecordPayment is called on rewards at a fixed rate
   (open loop: a call starts every 5 ms whatever the answers do); growth follows rewards' stream and
   earns from each payment. The latency of a payment is from the moment its call started to the moment
   its points_earned event shows on growth's own stream (the effect committed, and seen from outside).
3. **Catch-up.** Payments recorded on rewards for `--seconds` while growth does not follow it; then growth
   follows rewards and earns from the backlog in full pages: events applied per second from its first
   effect to its last, the ceiling of growth's consumer.
4. **Hot writes with the outbox on and off.** RouteApplicant (router), RecordActivity (growth) and
   RecordPayment (rewards), each writing one event per call, against the same server started with
   SKYLANE_BENCH_OUTBOX=off (no event written): calls per second of each, median of the runs, the ratio
   of the medians and the median of each run's on/off ratio (on and off measured back to back).

Each figure is the median of `--runs` runs, the latency run's too; every run notes the machine's load
average, as the figures move with it.

Every server is `skylane serve <service>` as its own process (SQLite `synchronous=FULL` files under a
temporary directory, or PostgreSQL databases it creates and drops with `--pg-url`), with the shipped
config plus what the bench needs: no partner lenders (the router's pool is not what is measured), an
in-house cap nobody reaches, an uncapped growth task per payment and per bench activity. Load comes from
separate driver processes (this script with `_drive`).

    .venv/bin/python -m bench.events_bench [--seconds 5] [--runs 3] [--processes 2] [--rate 200]
                                           [--only ingest,latency,catchup,hot]
    .venv/bin/python -m bench.events_bench --pg-url postgresql://postgres@127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from skylane.router.v1 import router_pb2, router_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
MEMBERS = 256
RATE = 200.0  # events per second of the latency run


def member(n: int) -> str:
    return f"bench_member_{n % MEMBERS:05d}"


def key() -> types_pb2.IdempotencyKey:
    return types_pb2.IdempotencyKey(value=uuid.uuid4().hex)


# --- servers ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_configs(directory: Path, peers: dict[str, dict[str, dict[str, str]]] | None = None) -> Path:
    """The shipped config directory plus what the bench needs (see the module docstring)."""
    directory.mkdir(parents=True, exist_ok=True)
    router = yaml.safe_load((REPO / "config" / "router.yaml").read_text(encoding="utf-8"))
    router["partners"]["lenders"] = []
    router["partners"].pop("waterfall", None)
    router["policy"]["in_house"]["daily_cap"] = 1_000_000_000
    growth = yaml.safe_load((REPO / "config" / "growth.yaml").read_text(encoding="utf-8"))
    for task in growth["tasks"]:
        if task["event_type"] == "card_payment":
            task.pop("caps", None)
    growth["tasks"].append({"id": "bench_purchase", "event_type": "bench_purchase", "points": 10, "growth": 1})
    rewards = yaml.safe_load((REPO / "config" / "rewards.yaml").read_text(encoding="utf-8"))
    for name, document in (("router", router), ("growth", growth), ("rewards", rewards)):
        document.setdefault("events", {})["peers"] = (peers or {}).get(name, {})
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    for extra in (REPO / "config").iterdir():
        if extra.is_dir():
            target = directory / extra.name
            if not target.exists():
                target.symlink_to(extra)
    return directory


class Databases:
    """SQLite files under the run's directory, or PostgreSQL databases made (and dropped) per server."""

    def __init__(self, pg_url: str | None, prefix: str = "events_bench") -> None:
        self.pg_url, self.made, self.prefix = pg_url, [], prefix  # type: ignore[var-annotated]

    async def url(self, name: str) -> str | None:
        if not self.pg_url:
            return None
        import asyncpg

        database = f"{self.prefix}_{name}_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(f"{self.pg_url}/postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{database}"')
        finally:
            await conn.close()
        self.made.append(database)
        return f"{self.pg_url.replace('postgresql://', 'postgresql+asyncpg://')}/{database}"

    async def drop(self) -> None:
        if not self.pg_url:
            return
        import asyncpg

        conn = await asyncpg.connect(f"{self.pg_url}/postgres")
        try:
            for database in self.made:
                await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await conn.close()


@contextlib.asynccontextmanager
async def serve(
    service: str, port: int, config_dir: Path, var_dir: Path, db_url: str | None, *, outbox: bool = True
) -> AsyncIterator[str]:
    command = [sys.executable, "-m", "services.cli", "serve", service, "--port", str(port), "--no-metrics"]
    command += ["--config-dir", str(config_dir), "--var-dir", str(var_dir), "--config-poll", "0"]
    command += ["--db-url", db_url] if db_url else []
    env = {**os.environ, "SKYLANE_BENCH_OUTBOX": "on" if outbox else "off"}
    log, process = _spawn(command, env, var_dir / f"{service}-{port}.log")
    address = f"127.0.0.1:{port}"
    try:
        await wait_serving(address, process)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _spawn(command: list[str], env: dict[str, str], log_path: Path) -> tuple[Any, subprocess.Popen[bytes]]:
    log = log_path.open("wb")
    return log, subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_serving(address: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with grpc.aio.insecure_channel(address) as channel:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the server on {address} exited during start-up")
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                await asyncio.sleep(0.2)
    raise TimeoutError(address)


async def enroll_members(address: str) -> None:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = growth_pb2_grpc.GrowthServiceStub(channel)
        for n in range(MEMBERS):
            await stub.EnrollMember(
                growth_pb2.EnrollMemberRequest(idempotency_key=key(), customer=types_pb2.CustomerRef(ref=member(n)))
            )


# --- the driver processes -----------------------------------------------------------------------------


def route_call(channel: grpc.aio.Channel, n: int, tag: str) -> Any:
    """A prime applicant of the shipped scorecard (in-house, no partner involved), a new one every call."""
    tags = {
        "age": router_pb2.TagValue(int_value=35),
        "income_band": router_pb2.TagValue(string_value="high"),
        "asset_tier": router_pb2.TagValue(string_value="private"),
        "travel_frequency": router_pb2.TagValue(int_value=12),
        "existing_customer": router_pb2.TagValue(bool_value=True),
        "external_credit_score": router_pb2.TagValue(int_value=800),
    }
    request = router_pb2.RouteApplicantRequest(
        idempotency_key=key(),
        channel="bank_app",
        scenario="loan_center",
        applicant=types_pb2.CustomerRef(ref=f"bench-applicant-{tag}-{n:08d}"),
        tags=tags,
        requested_amount=types_pb2.Money(fen=2_000_000),
        term_months=12,
    )
    return router_pb2_grpc.RouterServiceStub(channel).RouteApplicant(request)


def activity_call(channel: grpc.aio.Channel, n: int, tag: str) -> Any:
    activity = growth_pb2.Activity(source="bench", id=f"{tag}-{n}", type="bench_purchase")
    activity.occurred_at.GetCurrentTime()
    request = growth_pb2.RecordActivityRequest(
        idempotency_key=key(), customer=types_pb2.CustomerRef(ref=member(n)), activity=activity
    )
    return growth_pb2_grpc.GrowthServiceStub(channel).RecordActivity(request)


def payment_call(channel: grpc.aio.Channel, n: int, tag: str) -> Any:
    request = rewards_pb2.RecordPaymentRequest(
        idempotency_key=key(),
        customer=types_pb2.CustomerRef(ref=member(n)),
        scene="mall",
        merchant_id="bench-merchant",
        order_id=f"bench-{tag}-{n}",
        amount=types_pb2.Money(fen=10_000),
    )
    return rewards_pb2_grpc.RewardsServiceStub(channel).RecordPayment(request)


def ingest_call(batch: int) -> Callable[[grpc.aio.Channel, int, str], Any]:
    def call(channel: grpc.aio.Channel, n: int, tag: str) -> Any:
        events = [
            events_pb2.OutsideEvent(
                idempotency_key=key(),
                source="bench",
                type="sign_in",
                customer=types_pb2.CustomerRef(ref=member(n * batch + i)),
                attributes={"channel": "app"},
            )
            for i in range(batch)
        ]
        request = events_pb2.IngestEventsRequest(idempotency_key=key(), events=events)
        return events_pb2_grpc.EventIngestServiceStub(channel).IngestEvents(request)

    return call


CALLS: dict[str, Callable[[grpc.aio.Channel, int, str], Any]] = {
    "route": route_call,
    "activity": activity_call,
    "payment": payment_call,
    "ingest1": ingest_call(1),
    "ingest100": ingest_call(100),
}


async def drive(kind: str, address: str, seconds: float, concurrency: int) -> dict[str, int]:
    """Closed loop: `concurrency` callers, each calling again as soon as answered, for `seconds`."""
    make, tag = CALLS[kind], uuid.uuid4().hex[:8]
    counts = {"ok": 0, "failed": 0}
    counter = iter(range(10**12))
    async with grpc.aio.insecure_channel(address) as channel:
        await make(channel, next(counter), tag)  # warm the connection
        deadline = time.monotonic() + seconds

        async def caller() -> None:
            while time.monotonic() < deadline:
                try:
                    await make(channel, next(counter), tag)
                    counts["ok"] += 1
                except grpc.aio.AioRpcError:
                    counts["failed"] += 1

        await asyncio.gather(*(caller() for _ in range(concurrency)))
    return counts


def load(kind: str, address: str, seconds: float, processes: int, concurrency: int) -> dict[str, float]:
    """Runs `processes` driver processes at once; calls per second that answered OK."""
    command = [sys.executable, "-m", "bench.events_bench", "_drive", kind, address, str(seconds), str(concurrency)]
    drivers = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    results = [json.loads(d.communicate()[0].strip().splitlines()[-1]) for d in drivers]
    return {"ok_per_s": sum(r["ok"] for r in results) / seconds, "failed": sum(r["failed"] for r in results)}


# --- the runs -----------------------------------------------------------------------------------------


async def ingest_throughput(args: argparse.Namespace, root: Path, dbs: Databases) -> dict[str, Any]:
    out: dict[str, Any] = {}
    configs = bench_configs(root / "config-ingest")
    for batch, kind in ((1, "ingest1"), (100, "ingest100")):
        runs = []
        for run in range(args.runs):
            var = root / f"ingest-{batch}-{run}"
            var.mkdir()
            async with serve("growth", free_port(), configs, var, await dbs.url("growth")) as address:
                calls = load(kind, address, args.seconds, args.processes, args.concurrency)
            runs.append(calls["ok_per_s"] * batch)
        out[f"batch {batch}"] = {"events_per_s": statistics.median(runs), "runs": runs}
        print(f"ingest, batch {batch:>3}: {statistics.median(runs):8.0f} events/s  (runs {[round(r) for r in runs]})")
    return out


async def latency(args: argparse.Namespace, root: Path, dbs: Databases) -> dict[str, Any]:
    """`--runs` runs of the steady-rate run, each on new servers and databases: the median of each figure."""
    runs = []
    for run in range(args.runs):
        before = round(os.getloadavg()[0], 2)  # the machine's load before this run's servers start
        rewards_port, growth_port = free_port(), free_port()
        peers = {"growth": {"rewards": {"address": f"127.0.0.1:{rewards_port}"}}}
        configs = bench_configs(root / f"config-latency-{run}", peers)
        var = root / f"latency-{run}"
        var.mkdir()
        async with (
            serve("rewards", rewards_port, configs, var, await dbs.url("rewards")) as rewards,
            serve("growth", growth_port, configs, var, await dbs.url("growth")) as growth,
        ):
            await enroll_members(growth)
            runs.append(
                {"load_1m_before": before, **await _paced_payments(rewards, growth, args.latency_seconds, args.rate)}
            )
    figures = ("rate_per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms", "consumer_p50_ms", "consumer_p95_ms")
    median = {
        f: statistics.median(r[f] for r in runs if r[f] is not None) for f in (*figures, "load_1m_before", "load_1m")
    }
    median["effects_missing"] = sum(r["recorded"] - r["effects"] for r in runs)
    median["failed_calls"] = sum(r["failed_calls"] for r in runs)
    print(
        f"event to effect at {args.rate:.0f}/s, median of {len(runs)} runs: p50 {median['p50_ms']:.0f} ms,"
        f" p95 {median['p95_ms']:.0f} ms, p99 {median['p99_ms']:.0f} ms; rewards' commit to growth's p50"
        f" {median['consumer_p50_ms']:.0f} ms, p95 {median['consumer_p95_ms']:.0f} ms; missing effects"
        f" {median['effects_missing']}, failed calls {median['failed_calls']}"
    )
    return {"median": median, "runs": runs}


async def catch_up(args: argparse.Namespace, root: Path, dbs: Databases) -> dict[str, Any]:
    """Growth's consumer ceiling: payments recorded on rewards while growth does not follow it, then growth
    follows and catches up in full pages; events applied per second from its first effect to its last."""
    runs = []
    for run in range(args.runs):
        before = round(os.getloadavg()[0], 2)
        rewards_port = free_port()
        alone = bench_configs(root / f"config-catchup-alone-{run}")
        following = bench_configs(
            root / f"config-catchup-{run}", {"growth": {"rewards": {"address": f"127.0.0.1:{rewards_port}"}}}
        )
        var = root / f"catchup-{run}"
        var.mkdir()
        growth_db, rewards_db = await dbs.url("growth"), await dbs.url("rewards")
        async with serve("growth", free_port(), alone, var, growth_db) as growth:
            await enroll_members(growth)
        async with serve("rewards", rewards_port, alone, var, rewards_db) as rewards:
            load("payment", rewards, args.seconds, args.processes, args.concurrency)
            async with grpc.aio.insecure_channel(rewards) as channel:
                backlog = await _count(channel, "payment_recorded")
            async with serve("growth", free_port(), following, var, growth_db) as growth:
                seen = await _effects(growth, backlog)
        rate = (len(seen) - 1) / (seen[-1] - seen[0]) if len(seen) > 1 else 0.0
        runs.append(
            {"backlog": backlog, "applied": len(seen), "events_per_s": round(rate, 1), "load_1m_before": before}
        )
        print(f"catch-up: {len(seen)}/{backlog} payments earned at {rate:.0f}/s (load {before})")
    median = statistics.median(r["events_per_s"] for r in runs)
    print(f"catch-up, median of {len(runs)} runs: {median:.0f} events/s")
    return {"events_per_s": median, "runs": runs}


async def _effects(growth: str, expected: int) -> list[float]:
    """When growth committed each of its next `expected` points_earned events (their occurred_at, UTC
    seconds; the watcher may connect after the consumer finished), up to 300 s."""
    committed: list[float] = []
    done = asyncio.Event()

    def _seen(event: events_pb2.DomainEvent) -> None:
        committed.append(event.occurred_at.ToDatetime().timestamp())
        if len(committed) >= expected:
            done.set()

    async with grpc.aio.insecure_channel(growth) as channel:
        watcher = asyncio.create_task(_watch(channel, "points_earned", _seen))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 300)
        watcher.cancel()
    return sorted(committed)


async def _count(channel: grpc.aio.Channel, kind: str) -> int:
    stub = events_pb2_grpc.EventsOpsServiceStub(channel)
    count = 0
    async for page in stub.StreamEvents(events_pb2.StreamEventsRequest(types=[kind], page_size=1000)):
        count += len(page.events)
    return count


async def _paced_payments(rewards: str, growth: str, seconds: float, rate: float) -> dict[str, Any]:
    started: dict[str, float] = {}  # order id → when its call started
    order_of: dict[str, str] = {}  # rewards event id → order id
    effect: dict[str, float] = {}  # rewards event id → when growth's points_earned for it was seen
    committed: dict[str, float] = {}  # rewards event id → when rewards committed it (its occurred_at)
    earned: dict[str, float] = {}  # rewards event id → when growth committed its points_earned
    tag = uuid.uuid4().hex[:8]
    expected, all_seen = [10**12], asyncio.Event()

    def _recorded(event: events_pb2.DomainEvent) -> None:
        order_of[event.event_id] = event.data["order_id"]
        committed[event.event_id] = event.occurred_at.ToDatetime().timestamp()

    def _seen(event: events_pb2.DomainEvent) -> None:
        effect.setdefault(event.data["activity_id"], time.monotonic())
        earned.setdefault(event.data["activity_id"], event.occurred_at.ToDatetime().timestamp())
        if len(effect) >= expected[0]:
            all_seen.set()

    async with grpc.aio.insecure_channel(rewards) as rchan, grpc.aio.insecure_channel(growth) as gchan:
        watchers = [
            asyncio.create_task(_watch(rchan, "payment_recorded", _recorded)),
            asyncio.create_task(_watch(gchan, "points_earned", _seen)),
        ]
        await asyncio.sleep(1.0)  # both streams caught up
        calls: list[asyncio.Task[Any]] = []
        begin = time.monotonic()
        n = 0
        while (now := time.monotonic()) - begin < seconds:
            target = begin + n / rate
            if target > now:
                await asyncio.sleep(target - now)
            order = f"bench-{tag}-{n}"
            started[order] = time.monotonic()
            calls.append(asyncio.ensure_future(payment_call(rchan, n, tag)))
            n += 1
        sent_rate = n / (time.monotonic() - begin)
        answers = await asyncio.gather(*calls, return_exceptions=True)
        failed = sum(1 for a in answers if isinstance(a, BaseException))
        expected[0] = n - failed
        if len(effect) >= expected[0]:
            all_seen.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_seen.wait(), 30)
        for watcher in watchers:
            watcher.cancel()
    latencies = sorted(
        (effect[event_id] - started[order]) * 1000 for event_id, order in order_of.items() if event_id in effect
    )
    # From rewards' commit to growth's: the consumer's part of the latency (both servers' clocks are this machine's).
    lags = sorted((earned[event_id] - committed[event_id]) * 1000 for event_id in committed if event_id in earned)
    result = {
        "rate_per_s": round(sent_rate, 1),
        "payments": n,
        "failed_calls": failed,
        "recorded": len(order_of),
        "effects": len(latencies),
        "consumer_p50_ms": _pct(lags, 50),
        "consumer_p95_ms": _pct(lags, 95),
        "p50_ms": _pct(latencies, 50),
        "p95_ms": _pct(latencies, 95),
        "p99_ms": _pct(latencies, 99),
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "load_1m": round(os.getloadavg()[0], 2),  # the machine's load as the run ended
    }
    print(
        f"event to effect at {result['rate_per_s']}/s: {result['effects']}/{len(order_of)} effects of recorded payments"
        f" ({failed} calls failed), p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms,"
        f" max {result['max_ms']} ms; rewards' commit to growth's p50 {result['consumer_p50_ms']} ms,"
        f" p95 {result['consumer_p95_ms']} ms; load {result['load_1m']}"
    )
    return result


async def _watch(channel: grpc.aio.Channel, kind: str, seen: Callable[[events_pb2.DomainEvent], Any]) -> None:
    stub = events_pb2_grpc.EventsOpsServiceStub(channel)
    async for page in stub.StreamEvents(events_pb2.StreamEventsRequest(follow=True, types=[kind], page_size=1000)):
        for event in page.events:
            seen(event)


def _pct(values: list[float], pct: int) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * pct / 100))], 1)


HOT = (
    ("router", "route", "RouteApplicant"),
    ("growth", "activity", "RecordActivity"),
    ("rewards", "payment", "RecordPayment"),
)


async def hot_writes(args: argparse.Namespace, root: Path, dbs: Databases) -> dict[str, Any]:
    out: dict[str, Any] = {}
    configs = bench_configs(root / "config-hot")
    for service, kind, rpc in HOT:
        measured: dict[bool, list[float]] = {True: [], False: []}
        for run in range(args.runs):
            for outbox in (True, False) if run % 2 == 0 else (False, True):  # alternate the order
                var = root / f"hot-{service}-{run}-{'on' if outbox else 'off'}"
                var.mkdir()
                async with serve(service, free_port(), configs, var, await dbs.url(service), outbox=outbox) as address:
                    if service == "growth":
                        await enroll_members(address)
                    calls = load(kind, address, args.seconds, args.processes, args.concurrency)
                measured[outbox].append(calls["ok_per_s"])
        on, off = statistics.median(measured[True]), statistics.median(measured[False])
        # Each run measures on and off back to back: the median of those paired ratios is steadier than the
        # ratio of the medians on a machine whose load moves between runs.
        paired = statistics.median(a / b for a, b in zip(measured[True], measured[False], strict=True))
        out[rpc] = {"outbox_on": on, "outbox_off": off, "ratio": on / off, "paired_ratio": paired, "runs": measured}
        out[rpc]["load_1m"] = round(os.getloadavg()[0], 2)
        print(
            f"{rpc:<15} outbox on {on:7.0f}/s  off {off:7.0f}/s  ratio {on / off:5.2f}  paired ratio {paired:5.2f}"
            f"  load {out[rpc]['load_1m']}"
        )
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    only = set(args.only.split(",")) if args.only else {"ingest", "latency", "catchup", "hot"}
    dbs = Databases(args.pg_url)
    results: dict[str, Any] = {"engine": "postgres" if args.pg_url else "sqlite", "seconds": args.seconds}
    try:
        with tempfile.TemporaryDirectory(prefix="events-bench-") as tmp:
            root = Path(tmp)
            if "ingest" in only:
                results["ingest"] = await ingest_throughput(args, root, dbs)
            if "latency" in only:
                results["latency"] = await latency(args, root, dbs)
            if "catchup" in only:
                results["catch_up"] = await catch_up(args, root, dbs)
            if "hot" in only:
                results["hot_writes"] = await hot_writes(args, root, dbs)
    finally:
        await dbs.drop()
    return results


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring window per throughput run")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="length of the 200 events/s run")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median is shown)")
    parser.add_argument("--rate", type=float, default=RATE, help="payments per second of the latency run")
    parser.add_argument("--processes", type=int, default=2, help="driver processes")
    parser.add_argument("--concurrency", type=int, default=16, help="callers per driver process")
    parser.add_argument("--only", default="", help="ingest,latency,catchup,hot (default: all)")
    parser.add_argument("--pg-url", default=None, help="postgresql://user@host:port: run on PostgreSQL")
    parser.add_argument("--out", default="", help="also write the results to this JSON file")
    return parser.parse_args(argv)


def _driver_main(argv: list[str]) -> None:
    kind, address, seconds, concurrency = argv[0], argv[1], float(argv[2]), int(argv[3])
    print(json.dumps(asyncio.run(drive(kind, address, seconds, concurrency))))


if __name__ == "__main__":
    if sys.argv[1:2] == ["_drive"]:
        _driver_main(sys.argv[2:])
    else:
        options = parse(sys.argv[1:])
        measured = asyncio.run(main(options))
        if options.out:
            Path(options.out).write_text(json.dumps(measured, indent=2))
            print(f"results: {options.out}")
