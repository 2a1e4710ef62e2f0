"""Server options benchmark (not a test): what the access log and the event loop cost, against `skylane serve`'s
defaults (asyncio's loop, an access-log line for 1% of successful calls and for every refused, failed or
slow one).

Every variant is a real `skylane serve growth` process, fresh per run, with only one setting changed
(through its environment variable), measured on the same two rows as the suite: GetBalance driven by h2load
(one body: a read) and RecordActivity driven by 4 Python processes with distinct idempotency keys (a durable
write). The variants run in a shuffled order in every run; each figure is the median over the runs of the
OK calls/s the server counted, and its ratio to the default's median.

    .venv/bin/python -m bench.options_bench [--runs 3] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
from pathlib import Path

from bench import h2load
from bench.growth_bench import balance_body, bench_config
from bench.harness import drive_processes, serve_service
from bench.suite import GROWTH, _setup

DEFAULT = "default: asyncio, access log 1%"
VARIANTS: dict[str, dict[str, str]] = {
    DEFAULT: {},
    "access log every call": {"SKYLANE_ACCESS_LOG_SAMPLE": "1"},
    "access log only refused, failed, slow": {"SKYLANE_ACCESS_LOG_SAMPLE": "0"},
    "uvloop": {"SKYLANE_EVENT_LOOP": "uvloop"},
}
ROWS = ("GetBalance", "RecordActivity")


def measure(variant: dict[str, str], directory: Path, seconds: float) -> dict[str, float]:
    """calls/s of each row against one fresh server run with the variant's settings."""
    with serve_service("growth", bench_config(directory), env=variant) as server:
        _setup(server.address, "bench.growth_bench:prepare_funded_members")
        read = h2load.run(server, GROWTH + "GetBalance", balance_body(), method="GetBalance", seconds=seconds)
        write = drive_processes(
            server.address,
            "bench.growth_bench:record_activity",
            processes=4,
            concurrency=32,
            seconds=seconds,
            server=server,
            method="RecordActivity",
        )
    return {"GetBalance": read.throughput, "RecordActivity": write.throughput}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    measured: dict[str, list[dict[str, float]]] = {name: [] for name in VARIANTS}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="options-bench-") as tmp:
        for run in range(args.runs):
            order = list(VARIANTS)
            random.Random(run).shuffle(order)
            for name in order:
                directory = Path(tmp) / f"{run}-{order.index(name)}"
                directory.mkdir()
                got = measure(VARIANTS[name], directory, args.seconds)
                measured[name].append(got)
                print(f"run {run + 1} {name}: " + ", ".join(f"{row} {got[row]:,.0f}/s" for row in ROWS))
            loads.append(os.getloadavg()[0])
    report(measured, loads)


def report(measured: dict[str, list[dict[str, float]]], loads: list[float]) -> None:
    medians = {name: {row: statistics.median(r[row] for r in runs) for row in ROWS} for name, runs in measured.items()}
    runs = len(measured[DEFAULT])
    print(f"\nmedians of {runs} runs; load average {' → '.join(f'{x:.1f}' for x in loads)}")
    print("| server | " + " | ".join(f"{row} calls/s (min–max) | ratio" for row in ROWS) + " |")
    print("|---|" + "---:|---:|" * len(ROWS))
    for name, rows in medians.items():
        cells = []
        for row in ROWS:
            values = [r[row] for r in measured[name]]
            ratio = rows[row] / medians[DEFAULT][row] if medians[DEFAULT][row] else 0.0
            cells.append(f"{rows[row]:,.0f} ({min(values):,.0f}–{max(values):,.0f}) | {ratio:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
