"""Scale-out on PostgreSQL: 1, 2 and 4 processes of one service behind one port, the same load.

    python -m bench.scale_out [--runs 3] [--seconds 5] [--processes 1,2,4] [--rows RouteApplicant,RecordActivity]
                              [--pg-url postgresql://user@host:port] [--core-share 0.25 --callers-per-process 8]

Each process is `skylane serve <service> --reuse-port` as production runs it (access log and metrics on), all
on one port (SO_REUSEPORT: the kernel spreads connections between them) and one fresh database of a private
PostgreSQL cluster (or the server at --pg-url). The Python generator drives them from 4 processes with 4
connections each (16 connections, so every server process gets its share) and 32 callers in all, distinct
idempotency keys. Calls/s are the OK calls all the server processes counted over the window; server CPU is
theirs together, db CPU the cluster's. Each figure is the median of --runs runs; every N runs against fresh
servers, the values of N interleaved within a run. The no-op's h2load rate of the same run is given for scale.

With --core-share F every server process is held to F of one core (bench/cpu_quota.py, the kernel's CPU
controller): a machine with a core per server process, each slower than these, while the database and the
generator keep the rest — how the curve looks where cores allow, on a machine that has two. A process held
to a share of a core answers more slowly, and 32 callers queued on one such process would make every call
slow enough to be access-logged (a slow call always is), which costs CPU an unthrottled process does not
spend: --callers-per-process K keeps K calls in flight per server process instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import cpu_quota, h2load
from bench.harness import (
    NOOP_METHOD,
    REPO,
    RESULTS,
    LoadResult,
    Server,
    drive_processes,
    free_port,
    noop,
    serve_logged,
    skylane_serve_args,
)
from bench.pg import Postgres, postgres


class ServerGroup(Server):
    """Several server processes measured as one: their call counts and CPU summed."""

    def __init__(self, members: list[Server], extra_pids: Callable[[], list[int]]) -> None:
        super().__init__(members[0].address, members[0].pid, members[0].metrics_port, None, extra_pids)
        self.members = members

    def cpu_seconds(self) -> float:
        return sum(member.cpu_seconds() for member in self.members)

    def counts(self) -> dict[tuple[str, str], float]:
        total: dict[tuple[str, str], float] = {}
        for member in self.members:
            for key, value in member.counts().items():
                total[key] = total.get(key, 0.0) + value
        return total


ROWS = {
    "RouteApplicant": ("router", "bench.router_bench:route", None),
    "RecordActivity": ("growth", "bench.growth_bench:record_activity", "bench.growth_bench:prepare_funded_members"),
}


def _config(service: str, directory: Path) -> Path:
    if service == "router":
        from bench.router_bench import router_config

        return router_config(directory, None)
    from bench.growth_bench import bench_config

    return bench_config(directory)


@contextlib.contextmanager
def replicas(service: str, count: int, pg: Postgres, core_share: float | None = None) -> Iterator[ServerGroup]:
    """`count` processes of `skylane serve <service> --reuse-port` on one port and one fresh database, each
    held to `core_share` of a core once it is up (none: as the machine lets it)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-scale-{service}-") as tmp, pg.database(service) as database:
        config_dir = Path(tmp) / "config"
        shutil.copytree(REPO / "config", config_dir)
        shutil.copy(_config(service, Path(tmp)), config_dir / f"{service}.yaml")
        port = free_port()
        with contextlib.ExitStack() as stack:
            members = []
            for index in range(count):  # one at a time: the first brings the schema to head
                args = skylane_serve_args(service, config_dir, Path(tmp) / "var", pg.sqlalchemy_url(database))
                args[args.index("--port") + 1] = str(port)
                log = Path(tmp) / f"{service}-{index}.log"
                member = stack.enter_context(serve_logged([*args, "--reuse-port"], log))
                if core_share is not None:
                    stack.enter_context(cpu_quota.capped(member.pid, core_share))
                members.append(member)
            yield ServerGroup(members, pg.backends())


def _setup(address: str, function: str) -> None:
    from bench.suite import _setup as setup

    setup(address, function)


def measure(
    row: str, count: int, pg: Postgres, seconds: float, core_share: float | None = None, callers: int = 32
) -> LoadResult:
    service, workload, prepare = ROWS[row]
    with replicas(service, count, pg, core_share) as group:
        if prepare:
            _setup(group.address, prepare)
        return drive_processes(
            group.address,
            workload,
            processes=4,
            concurrency=callers,
            seconds=seconds,
            warmup=1.0,
            server=group,
            method=row,
            connections=4,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--processes", default="1,2,4", help="server process counts to measure")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"rows: {','.join(ROWS)}")
    parser.add_argument("--pg-url", help="use this server (postgresql://user@host:port) instead of a private cluster")
    parser.add_argument(
        "--core-share", type=float, help="hold each server process to this share of one core (needs root: cgroups)"
    )
    parser.add_argument(
        "--callers-per-process",
        type=int,
        help="callers in flight per server process (default: 32 in all, whatever the number of processes)",
    )
    args = parser.parse_args()
    if args.core_share is not None and not cpu_quota.available():
        parser.error("--core-share needs a writable cgroup CPU controller (root, /sys/fs/cgroup)")
    counts = [int(n) for n in args.processes.split(",")]
    rows = args.rows.split(",")
    runs: list[dict[str, Any]] = []
    with postgres(args.pg_url) as pg:
        for index in range(args.runs):
            run: dict[str, Any] = {"loadavg_before": os.getloadavg()[0], "rows": {}}
            with noop() as server:
                run["noop"] = h2load.run(server, NOOP_METHOD, b"", method="Call", seconds=args.seconds).throughput
            for row in rows:
                for count in counts:
                    callers = 32 if args.callers_per_process is None else args.callers_per_process * count
                    result = measure(row, count, pg, args.seconds, args.core_share, callers)
                    run["rows"][f"{row} x{count}"] = {**result.__dict__, "throughput": result.throughput}
                    print(
                        f"run {index + 1} {row} x{count}: {result.throughput:,.0f} OK/s, p50 {result.p50_ms:.1f} ms, "
                        f"p99 {result.p99_ms:.1f} ms, server {result.server_cpu:.2f} / db {result.extra_cpu:.2f} / "
                        f"client {result.client_cpu:.2f} cores, not OK {result.not_ok}",
                        flush=True,
                    )
            run["loadavg_after"] = os.getloadavg()[0]
            runs.append(run)
    table = markdown(runs, rows, counts, " ".join(sys.argv[1:]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "scale-out" if args.core_share is None else f"scale-out-share-{args.core_share:g}"
    (RESULTS / f"{name}.json").write_text(
        json.dumps({"core_share": args.core_share, "runs": runs}, indent=2, default=str) + "\n"
    )
    (RESULTS / f"{name}.md").write_text(table)
    print(table)


def markdown(runs: list[dict[str, Any]], rows: list[str], counts: list[int], argv: str) -> str:
    lines = [
        "| row | server processes | calls/s (min–max) | × one process | p50 / p99 ms | server CPU | db CPU "
        "| client CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        single = None
        for count in counts:
            entries = [run["rows"][f"{row} x{count}"] for run in runs]
            rates = [e["throughput"] for e in entries]
            rate = statistics.median(rates)
            single = rate if single is None else single
            lines.append(
                f"| {row} | {count} | {rate:,.0f} ({min(rates):,.0f}–{max(rates):,.0f}) | {rate / single:.2f} | "
                f"{statistics.median(e['p50_ms'] for e in entries):.1f} / "
                f"{statistics.median(e['p99_ms'] for e in entries):.1f} | "
                f"{statistics.median(e['server_cpu'] for e in entries):.2f} | "
                f"{statistics.median(e['extra_cpu'] for e in entries):.2f} | "
                f"{statistics.median(e['client_cpu'] for e in entries):.2f} |"
            )
    noop_rates = ", ".join(f"{run['noop']:,.0f}" for run in runs)
    loads = ", ".join(f"{run['loadavg_before']:.1f}→{run['loadavg_after']:.1f}" for run in runs)
    lines += [
        "",
        f"`python -m bench.scale_out {argv}` — {len(runs)} run(s), {os.cpu_count()} CPUs, no-op (h2load) per run "
        f"{noop_rates} calls/s, load average per run {loads}; {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
