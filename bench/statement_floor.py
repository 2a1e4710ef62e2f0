"""The floor of a durable write of K statements in this stack, for K = 1, 2, 4, 6, 8, 11.

The suite's floor row writes one row per call with one executemany per batch: the floor of a write
that is one statement. A service's write unit runs several statements (RecordActivity about ten, Claim
seven to nine), each its own call into SQLite, inside a savepoint of its own within the batch's
transaction. This measures what that costs with nothing else around it: `bench/floor_server.py
--statements K` (a bare grpc.aio handler parsing the real RecordActivity request; per call SAVEPOINT,
K single-row INSERTs into K tables each with a primary key and a secondary index, RELEASE; group commit
with a 1 ms arrival window, WAL, synchronous=FULL), driven by h2load like the no-op (1 connection x 32
streams, server-side unique event ids), every K and the no-op in a fresh server per run, in a shuffled
order. Calls/s are the server's own count of OK calls; each figure is the median of --runs runs.

    .venv/bin/python -m bench.statement_floor [--runs 3] [--seconds 5] [--statements 1,2,4,6,8,11]

The ratio of K statements to the no-op is the most a write of K statements can reach in this stack
with no Python of its own: the statement count a target allows.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import h2load
from bench.growth_bench import record_activity_body
from bench.harness import NOOP_METHOD, RESULTS, LoadResult, bench_server, noop

PATH = "/skylane.growth.v1.GrowthService/RecordActivity"


def measure(key: str, tmp: Path, seconds: float, warmup: float) -> LoadResult:
    """One fresh server for `key` ("noop" or a statement count), driven by h2load."""
    if key == "noop":
        with noop() as server:
            return h2load.run(server, NOOP_METHOD, b"", method="Call", seconds=seconds, warmup=warmup)
    db = tmp / f"floor-{key}-{time.monotonic_ns()}.db"
    with bench_server("bench.floor_server", "--db", str(db), "--unique", "--statements", key) as server:
        return h2load.run(server, PATH, record_activity_body(), method="RecordActivity", seconds=seconds, warmup=warmup)


def table(runs: list[dict[str, LoadResult]], keys: list[str]) -> str:
    lines = [
        "| statements per call | calls/s (min–max) | ratio to the no-op (min–max) | p50 / p99 ms | server CPU "
        "| server ms/call |",
        "|---|---|---|---|---|---|",
    ]
    for key in keys:
        rates = [run[key].throughput for run in runs]
        ratios = [run[key].throughput / run["noop"].throughput for run in runs]
        p50 = statistics.median(run[key].p50_ms for run in runs)
        p99 = statistics.median(run[key].p99_ms for run in runs)
        cpu = statistics.median(run[key].server_cpu for run in runs)
        per_call = statistics.median(run[key].server_cpu / run[key].throughput * 1000 for run in runs)
        label = "no-op" if key == "noop" else key
        lines.append(
            f"| {label} | {statistics.median(rates):,.0f} ({min(rates):,.0f}–{max(rates):,.0f}) | "
            f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) | {p50:.1f} / {p99:.1f} | "
            f"{cpu:.2f} | {per_call:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--statements", default="1,2,4,6,8,11", help="comma-separated statement counts")
    args = parser.parse_args()
    counts = [str(int(k)) for k in args.statements.split(",")]
    keys = ["noop", *counts]
    runs: list[dict[str, LoadResult]] = []
    with tempfile.TemporaryDirectory(prefix="bench-statement-floor-") as tmp:
        for n in range(args.runs):
            order = keys[:]
            random.Random(n).shuffle(order)
            run: dict[str, LoadResult] = {}
            for key in order:
                run[key] = measure(key, Path(tmp), args.seconds, args.warmup)
                print(f"run {n + 1}: {key:>4} {run[key].throughput:8,.0f} OK/s", flush=True)
            runs.append(run)
    out = table(runs, keys)
    print(out)
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw: list[dict[str, Any]] = [{k: vars(v) for k, v in run.items()} for run in runs]
    (RESULTS / "statement-floor.json").write_text(json.dumps(raw, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
