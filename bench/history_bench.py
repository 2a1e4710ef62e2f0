"""History benchmark (not a test): point reads as history grows, from 1 thousand to 1 million rows.

A real `skylane serve` process (production defaults: access log, metrics) on a SQLite file seeded with
history, read at concurrency 4 from a separate load process for `--seconds`, each (read, size) in its own
fresh server process, in a shuffled order, `--runs` times; medians over the runs and the ratio of the
largest history's to the smallest's:

- GetBalance (growth) with N ledger entries (N/2 earn transactions with their lots, 1,000 members), the
  seeding of bench/growth_bench.py;
- GetDecision (router) with N recorded decisions: one real RouteApplicant decision copied N times with
  new ids, idempotency keys and applicants (50,000 of them), read at random.

    .venv/bin/python -m bench.history_bench [--runs 3] [--seconds 5] [--sizes 1000 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import tempfile
from pathlib import Path

import grpc

from bench.growth_bench import bench_config, seed_ledger
from bench.harness import Stats, drive, serve_service
from bench.router_bench import route, router_config
from skylane.router.v1 import router_pb2, router_pb2_grpc

SEEDED = "BENCH_SEEDED_DECISIONS"  # how many seeded decisions the load process reads from
APPLICANTS = 50_000


def decision_id(i: int) -> str:
    return f"seed{i:028d}"


async def get_seeded_decision(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    n = int(os.environ[SEEDED])
    request = router_pb2.GetDecisionRequest(decision_id=decision_id(random.randint(1, n)))
    await router_pb2_grpc.RouterServiceStub(channel).GetDecision(request)


def _one_real_decision(tmp: Path, url: str) -> None:
    """Starts the router on the file (which migrates it) and routes one applicant: the row to copy."""

    async def call(address: str) -> None:
        async with grpc.aio.insecure_channel(address) as channel:
            await route(channel, 0, 0)

    with serve_service("router", router_config(tmp, None), db_url=url) as server:
        asyncio.run(call(server.address))


def seed_decisions(tmp: Path, path: Path, n: int) -> None:
    """N copies of one real decision, each with its own id, idempotency key and applicant."""
    _one_real_decision(tmp, f"sqlite+aiosqlite:///{path}")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    (template,) = conn.execute("SELECT id FROM decisions WHERE kind = 'live'").fetchone()
    columns = [row[1] for row in conn.execute("PRAGMA table_info(decisions)")]
    made = {
        "id": "printf('seed%028d', i)",
        "idempotency_key": "'seed-' || i",
        "applicant_ref": f"'seed-applicant-' || (i % {APPLICANTS})",
        "device_ref": "NULL",
        "paired_id": "NULL",
    }
    values = ", ".join(made.get(c, f"decisions.{c}") for c in columns)
    conn.execute(
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "  # column names only
        f"INSERT INTO decisions ({', '.join(columns)}) SELECT {values} FROM n, decisions WHERE decisions.id = ?",
        (n, template),
    )
    conn.commit()
    counted = conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    conn.close()
    print(f"seeded {counted:,} decisions into {path.name}")


def _read(service: str, config: Path, url: str, workload: str, seconds: float) -> Stats:
    with serve_service(service, config, db_url=url) as server:
        return drive(server.address, workload, concurrency=4, seconds=seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 1_000_000])
    args = parser.parse_args()
    results: dict[tuple[str, int], list[Stats]] = {}
    with tempfile.TemporaryDirectory(prefix="history-bench-") as name:
        tmp = Path(name)
        growth_config = bench_config(tmp)
        files = {}
        for size in args.sizes:
            files[("GetBalance", size)] = tmp / f"ledger_{size}.db"
            seed_ledger(files[("GetBalance", size)], size)
            files[("GetDecision", size)] = tmp / f"decisions_{size}.db"
            seed_decisions(tmp, files[("GetDecision", size)], size)
        for run in range(args.runs):
            order = list(files.items())
            random.Random(run).shuffle(order)  # no size always measured first (or last) in a run
            for (read, size), path in order:
                url = f"sqlite+aiosqlite:///{path}"
                if read == "GetBalance":
                    stats = _read("growth", growth_config, url, "bench.growth_bench:get_seeded_balance", args.seconds)
                else:
                    os.environ[SEEDED] = str(size)
                    config = router_config(tmp, None)
                    stats = _read("router", config, url, "bench.history_bench:get_seeded_decision", args.seconds)
                results.setdefault((read, size), []).append(stats)
                print(
                    f"run {run + 1} {read:<11} {size:>9,} rows: {stats.throughput:,.0f}/s "
                    f"p50 {stats.p50_ms:.2f} ms p99 {stats.p99_ms:.2f} ms errors {stats.errors}"
                )
    _report(results, args.sizes, os.getloadavg())


def _report(results: dict[tuple[str, int], list[Stats]], sizes: list[int], load: tuple[float, float, float]) -> None:
    small, large = min(sizes), max(sizes)
    print(f"\nmedians of {len(next(iter(results.values())))} runs, concurrency 4, load average {load[0]:.1f}")
    print("| read | rows | calls/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for (read, size), runs in results.items():
        rate = statistics.median(s.throughput for s in runs)
        p50, p99 = statistics.median(s.p50_ms for s in runs), statistics.median(s.p99_ms for s in runs)
        print(f"| {read} | {size:,} | {rate:,.0f} | {p50:.2f} | {p99:.2f} |")
    for read in ("GetBalance", "GetDecision"):
        a = statistics.median(s.p50_ms for s in results[(read, small)])
        b = statistics.median(s.p50_ms for s in results[(read, large)])
        print(f"{read}: p50 at {large:,} rows / at {small:,} rows = {b / a:.2f}")


if __name__ == "__main__":
    main()
