"""CPU per call by thread, at a fixed rate well below saturation: where a read's time goes.

Saturated throughput moves with whatever else the machine runs; CPU seconds per call at a fixed offered
rate hardly do (a server waiting for a core costs no CPU). Each server is driven by h2load at --rate
calls/s (one body, 1 connection x 32 streams, paced) for --seconds, and every thread's CPU over that window
(from /proc/<pid>/task/*/stat) is divided by the OK calls the server counted:

- the no-op grpc.aio handler: the framework's own cost per call;
- Admin.Probe on a growth server as `skylane serve` runs it: the request edge (request id, log context,
  checks, metrics, access-log sampling) around a handler that does nothing;
- GetBalance on the same server: the edge, the handler and one point read.

    .venv/bin/python -m bench.per_call_cpu [--rate 1000] [--seconds 6] [--runs 3]

The main thread is the event loop: the difference between two rows there is what the second adds per call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from bench import h2load
from bench.growth_bench import balance_body, bench_config
from bench.harness import NOOP_METHOD, Server, noop, serve_service
from skylane.common.v1 import admin_pb2

TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread of the process, keyed by 'name/tid' (the main thread's tid is the pid)."""
    out: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as stat, open(f"/proc/{pid}/task/{tid}/comm") as comm:
                fields, name = stat.read().rpartition(")")[2].split(), comm.read().strip()
        except OSError:
            continue  # the thread ended meanwhile
        out["main" if tid == str(pid) else f"{name}/{tid}"] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def per_call(server: Server, path: str, body: bytes, method: str, rate: float, seconds: float) -> dict[str, float]:
    """ms of CPU per OK call: the main thread, every other thread together, and the whole process."""
    before = thread_cpu(server.pid)
    result = h2load.run(server, path, body, method=method, seconds=seconds, warmup=0.5, rps=rate)
    after = thread_cpu(server.pid)
    calls = max(result.ok, 1.0)
    spent = {k: v - before.get(k, 0.0) for k, v in after.items()}
    main = spent.pop("main", 0.0)
    others = sum(spent.values())
    return {"main": 1000 * main / calls, "others": 1000 * others / calls, "all": 1000 * (main + others) / calls}


Row = tuple[str, Callable[[], AbstractContextManager[Server]], str, bytes, str]


def rows(tmp: Path) -> Iterator[Row]:
    growth = lambda: serve_service("growth", bench_config(tmp))  # noqa: E731 - a fresh server per run
    yield "no-op", noop, NOOP_METHOD, b"", "Call"
    probe = admin_pb2.ProbeRequest().SerializeToString()
    yield "Admin.Probe (growth)", growth, "/skylane.common.v1.Admin/Probe", probe, "Probe"
    yield "GetBalance", growth, "/skylane.growth.v1.GrowthService/GetBalance", balance_body(), "GetBalance"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-per-call-") as tmp:
        for _ in range(args.runs):
            for name, start, path, body, method in rows(Path(tmp)):
                with start() as server:
                    if method == "GetBalance":
                        from bench.suite import _setup

                        _setup(server.address, "bench.growth_bench:prepare_funded_members")
                    results.setdefault(name, []).append(per_call(server, path, body, method, args.rate, args.seconds))
    print(f"ms of CPU per call at {args.rate:,.0f} calls/s (median of {args.runs} runs)")
    print(f"{'row':24s} {'main thread':>12s} {'other threads':>14s} {'process':>9s}")
    for name, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in ("main", "others", "all")}
        print(f"{name:24s} {med['main']:12.3f} {med['others']:14.3f} {med['all']:9.3f}")


if __name__ == "__main__":
    main()
