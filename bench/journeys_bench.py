"""Journeys benchmark (not a test): event-to-decision latency of a real-time trigger at a steady rate.

`skylane serve rewards` runs as its own process with the shipped config plus one trigger on
`outside.payroll_credited` (no delay, no window, no quiet hours: what is measured is the machinery, not a
wait) and its own address as the `rewards` peer, so its consumer follows its own stream. The driver calls
IngestEvents with one payroll event for a new customer every 1/rate seconds (open loop: a call starts on
time whatever the answers do) and follows rewards' stream for `offer_triggered`. The latency of an event
is from the moment its IngestEvents call started to the moment its offer_triggered was seen on the stream:
ingest, the consumer applying it (the entry, and in the same unit of work the touch under the contact
ledger), and the stream delivering the event. The server-side part (the ingested event's commit to the
offer's commit, both stamped by the server's clock) is reported beside it, and so is the ingest's part
(the call's start to the event's commit), and the server process's CPU time per event over the run (from
/proc: what the work costs whatever else the machine runs). The campaign's holdout is set to 0 so every
event ends in a touch on the stream.

    .venv/bin/python -m bench.journeys_bench [--seconds 20] [--rate 200] [--runs 1]
    .venv/bin/python -m bench.journeys_bench --pg-url postgresql://postgres@127.0.0.1:5432
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import grpc
import yaml

from bench.events_bench import Databases, _pct, bench_configs, free_port, serve
from bench.harness import cpu_seconds
from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2

RATE = 200.0
TRIGGER = {
    "id": "bench-payroll",
    "event": "outside.payroll_credited",
    "validity_hours": 24,
}


def configs(root: Path, port: int) -> Path:
    """The shipped configs, rewards following itself, with the bench trigger on its first campaign."""
    directory = bench_configs(root / "config", {"rewards": {"rewards": {"address": f"127.0.0.1:{port}"}}})
    path = directory / "rewards.yaml"
    rewards = yaml.safe_load(path.read_text(encoding="utf-8"))
    rewards["contact"].pop("quiet_hours", None)
    rewards["campaigns"][0]["holdout_share"] = 0.0  # every event ends in a touch seen on the stream
    rewards["triggers"] = [{**TRIGGER, "campaign": rewards["campaigns"][0]["id"]}]
    rewards["events"]["poll_seconds"] = 0.2
    path.write_text(yaml.safe_dump(rewards, allow_unicode=True), encoding="utf-8")
    return directory


def payroll(customers: list[str]) -> events_pb2.IngestEventsRequest:
    events = [
        events_pb2.OutsideEvent(
            idempotency_key=types_pb2.IdempotencyKey(value=uuid.uuid4().hex),
            source="bank",
            type="payroll_credited",
            customer=types_pb2.CustomerRef(ref=customer),
            attributes={"amount_fen": "1200000"},
        )
        for customer in customers
    ]
    return events_pb2.IngestEventsRequest(
        idempotency_key=types_pb2.IdempotencyKey(value=uuid.uuid4().hex), events=events
    )


async def _follow(channel: grpc.aio.Channel, seen: dict[str, float], committed: dict[str, float], kind: str) -> None:
    stub = events_pb2_grpc.EventsOpsServiceStub(channel)
    async for page in stub.StreamEvents(events_pb2.StreamEventsRequest(follow=True, types=[kind], page_size=1000)):
        for event in page.events:
            seen.setdefault(event.customer.ref, time.monotonic())
            committed.setdefault(event.customer.ref, event.occurred_at.ToDatetime().timestamp())


def server_pid(port: int) -> int | None:
    """The `skylane serve rewards` process listening on `port` (found by its command line)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in args and b"rewards" in args and str(port).encode() in args:
            return int(entry.name)
    return None


def server_cpu(pid: int | None) -> float:
    """The server's CPU so far (0 where its process was not found)."""
    return 0.0 if pid is None else cpu_seconds(pid)


async def run_once(address: str, seconds: float, rate: float, batch: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    started: dict[str, float] = {}
    started_wall: dict[str, float] = {}  # the same moment on the wall clock the server stamps with
    decided: dict[str, float] = {}
    decided_at: dict[str, float] = {}  # the offer's commit, server clock
    ingested_at: dict[str, float] = {}  # the payroll event's commit, server clock
    async with grpc.aio.insecure_channel(address) as channel:
        followers = [
            asyncio.create_task(_follow(channel, decided, decided_at, "offer_triggered")),
            asyncio.create_task(_follow(channel, {}, ingested_at, "outside.payroll_credited")),
        ]
        await asyncio.sleep(1.0)
        pid = server_pid(int(address.rsplit(":", 1)[1]))
        cpu_before = server_cpu(pid)
        ingest = events_pb2_grpc.EventIngestServiceStub(channel)
        calls: list[asyncio.Future[Any]] = []
        begin, n = time.monotonic(), 0
        while (now := time.monotonic()) - begin < seconds:
            target = begin + n / rate
            if target > now:
                await asyncio.sleep(target - now)
            customers = [f"bench-{tag}-{n + i:06d}" for i in range(batch)]
            for customer in customers:
                started[customer], started_wall[customer] = time.monotonic(), time.time()
            calls.append(asyncio.ensure_future(ingest.IngestEvents(payroll(customers))))
            n += batch
        sent_rate = n / (time.monotonic() - begin)
        answers = await asyncio.gather(*calls, return_exceptions=True)
        failed = sum(1 for a in answers if isinstance(a, BaseException))
        for _ in range(600):  # up to a minute for the last decisions
            if len(decided) >= n - failed:
                break
            await asyncio.sleep(0.1)
        cpu = server_cpu(pid) - cpu_before  # the server's CPU for the whole run, its backlog included
        for follower in followers:
            follower.cancel()
    latencies = sorted((decided[c] - started[c]) * 1000 for c in started if c in decided)
    server = sorted((decided_at[c] - ingested_at[c]) * 1000 for c in decided_at if c in ingested_at)
    accepted = sorted((ingested_at[c] - started_wall[c]) * 1000 for c in ingested_at if c in started_wall)
    return {
        "rate_per_s": round(sent_rate, 1),
        "events": n,
        "failed_calls": failed,
        "decisions": len(latencies),
        "p50_ms": _pct(latencies, 50),
        "p95_ms": _pct(latencies, 95),
        "p99_ms": _pct(latencies, 99),
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "ingest_p50_ms": _pct(accepted, 50),
        "ingest_p95_ms": _pct(accepted, 95),
        "server_p50_ms": _pct(server, 50),
        "server_p95_ms": _pct(server, 95),
        "server_cpu_ms_per_event": round(cpu * 1000 / n, 2) if pid is not None and n else None,
        "load_1m": round(os.getloadavg()[0], 2),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    dbs = Databases(args.pg_url, args.db_prefix)
    results: dict[str, Any] = {"engine": "postgres" if args.pg_url else "sqlite", "batch": args.batch, "runs": []}
    try:
        with tempfile.TemporaryDirectory(prefix="journeys-bench-") as tmp:
            root = Path(args.keep_dir or tmp)
            await asyncio.to_thread(root.mkdir, parents=True, exist_ok=True)
            for _ in range(args.runs):
                port = free_port()
                var = root / f"var-{port}"
                var.mkdir()
                async with serve("rewards", port, configs(root, port), var, await dbs.url("rewards")) as address:
                    run = await run_once(address, args.seconds, args.rate, args.batch)
                print(
                    f"event to decision at {run['rate_per_s']}/s in calls of {args.batch}:"
                    f" {run['decisions']}/{run['events']} decided"
                    f" ({run['failed_calls']} calls failed), p50 {run['p50_ms']} ms, p95 {run['p95_ms']} ms,"
                    f" p99 {run['p99_ms']} ms, max {run['max_ms']} ms; call to the event's commit p50"
                    f" {run['ingest_p50_ms']} ms, p95 {run['ingest_p95_ms']} ms; the event's commit to the offer's"
                    f" p50 {run['server_p50_ms']} ms, p95 {run['server_p95_ms']} ms; server CPU"
                    f" {run['server_cpu_ms_per_event']} ms per event; load {run['load_1m']}"
                )
                results["runs"].append(run)
    finally:
        await dbs.drop()
    for key in ("p50_ms", "p95_ms", "server_p50_ms", "server_p95_ms", "server_cpu_ms_per_event"):
        values = [r[key] for r in results["runs"] if r[key] is not None]
        results[f"{key}_median"] = statistics.median(values) if values else None
    return results


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the steady run")
    parser.add_argument("--rate", type=float, default=RATE, help="payroll events per second")
    parser.add_argument("--batch", type=int, default=1, help="events per IngestEvents call (sent every batch/rate s)")
    parser.add_argument("--runs", type=int, default=1, help="runs (the median p95 is shown)")
    parser.add_argument("--pg-url", default=None, help="postgresql://user@host:port: run on PostgreSQL")
    parser.add_argument("--db-prefix", default="journeys_bench", help="PostgreSQL: name prefix of the databases made")
    parser.add_argument("--out", default="", help="also write the results to this JSON file")
    parser.add_argument("--keep-dir", default="", help="keep the servers' files and logs in this directory")
    return parser.parse_args(argv)


if __name__ == "__main__":
    options = parse(sys.argv[1:])
    measured = asyncio.run(main(options))
    if options.out:
        Path(options.out).write_text(json.dumps(measured, indent=2))
    with contextlib.suppress(Exception):
        print(json.dumps({k: v for k, v in measured.items() if k.endswith("_median")}))
