"""The benchmark suite: every hot RPC next to the no-op reference and the floor, measured honestly.

    python -m bench.suite [--runs 3] [--seconds 5] [--engine sqlite|postgres] [--update-docs]

One run measures, in this order and each on a freshly started server:

- **no-op (h2load)**: the no-op grpc.aio handler driven by h2load, 1 connection x 32 streams: the
  reference every ratio divides by (the same run's figure);
- no-op (python): the same handler driven by the Python load generator, to show that generator's own
  ceiling (a write row near it is limited by the client, not the server);
- **floor**: a bare grpc.aio handler that writes one durable row per RecordActivity (bench/floor_server.py;
  SQLite inline with group commit, or asyncpg on PostgreSQL), driven by h2load (server-side unique event
  ids) and by the Python generator (the same generator as the write rows);
- the services' hot RPCs, each server run as `skylane serve` runs it by default (access log on, metrics
  on): RouteApplicant, Offer, Claim, Redeem, RecordActivity, SpendPoints, RedeemRight (writes: the Python
  generator, several processes, distinct idempotency keys) and GetBalance (a read: h2load, one body).

Calls/s are the OK calls the server counted itself (skylane_grpc_requests_total{code="OK"}) over the
window; p50/p99 are the client's; CPU is in cores (CPU seconds / window seconds) for the server process,
the load generator (all its processes) and, on the private PostgreSQL cluster, the database. Each row is
also driven paced at half the no-op's h2load rate (open loop; p99 from each call's scheduled start) when
its saturated rate reaches that; otherwise the table says so.

Each figure is the median over --runs runs, with the spread. Results go to bench/results/suite-<engine>.json
(every run's every measurement) and suite-<engine>.md (the table; --update-docs also puts it into
docs/benchmarks.md between its suite markers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import grpc

from bench import h2load
from bench.harness import (
    NOOP_METHOD,
    REPO,
    RESULTS,
    LoadResult,
    Server,
    bench_server,
    drive_processes,
    noop,
    serve_service,
)
from bench.pg import Postgres, postgres

GROWTH = "/skylane.growth.v1.GrowthService/"
DOCS = REPO / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    what: str  # one line: what the row measures


ROWS = [
    Row("noop", "no-op", "empty grpc.aio handler, h2load: the reference (ratio 1.00 by definition)"),
    Row("noop-python", "no-op, Python generator", "the same handler, Python generator: that generator's ceiling"),
    Row("floor-h2load", "floor: 1 durable row", "bare handler, one durable insert per call, h2load"),
    Row("floor", "floor: 1 durable row", "bare handler, one durable insert per call, Python generator"),
    Row("RouteApplicant", "RouteApplicant", "router: new applicant per call, decision recorded, no partners"),
    Row("Offer", "Offer", "rewards: new customer per call"),
    Row("Claim", "Claim", "rewards: one prepared offer per call"),
    Row("Redeem", "Redeem", "rewards: one prepared coupon per call"),
    Row("RecordActivity", "RecordActivity", "growth: one earn transaction per call, 256 members"),
    Row("SpendPoints", "SpendPoints", "growth: 1 point from one of 256 funded members"),
    Row("RedeemRight", "RedeemRight", "growth: a 1-point right, no quota, points + stock held"),
    Row("GetBalance", "GetBalance", "growth: point read of one member, h2load (one body)"),
]
ROW_KEYS = [row.key for row in ROWS]


def _result(result: LoadResult) -> dict[str, Any]:
    return {**asdict(result), "throughput": result.throughput}


class Run:
    """One run of the suite: every row once, each server started fresh, the no-op first."""

    def __init__(self, args: argparse.Namespace, pg: Postgres | None, tmp: Path, only: set[str]) -> None:
        self.args, self.pg, self.tmp, self.only = args, pg, tmp, only
        self.rows: dict[str, dict[str, Any]] = {}
        self.half: float | None = None  # half the no-op's h2load rate in this run: the paced rate

    def wanted(self, *keys: str) -> bool:
        return any(key in self.only for key in keys)

    # -------------------------------------------------------------------------------------- drivers

    def python(
        self,
        server: Server,
        workload: str,
        method: str,
        *,
        prepare: str | None = None,
        pool: int | None = None,
        rate: float | None = None,
    ) -> LoadResult:
        return drive_processes(
            server.address,
            workload,
            processes=self.args.processes,
            concurrency=self.args.concurrency,
            seconds=self.args.seconds,
            warmup=self.args.warmup,
            prepare=prepare,
            server=server,
            method=method,
            pool=pool,
            rate=rate,
        )

    def h2(self, server: Server, path: str, body: bytes, method: str, rps: float | None = None) -> LoadResult:
        return h2load.run(
            server, path, body, method=method, seconds=self.args.seconds, warmup=self.args.warmup, rps=rps
        )

    def record(
        self,
        key: str,
        closed: Callable[[], LoadResult],
        paced: Callable[[float], LoadResult] | None,
    ) -> LoadResult:
        """Measures a row saturated (closed loop), then paced at half the no-op's rate when it can take it."""
        started = time.monotonic()
        result = closed()
        entry = _result(result)
        if paced is not None and self.half and not self.args.no_paced:
            if result.throughput >= self.half:
                entry["paced"] = _result(paced(self.half))
            else:
                entry["paced_skipped"] = f"saturates at {result.throughput:,.0f}/s < {self.half:,.0f}/s"
        entry["elapsed_s"] = round(time.monotonic() - started, 1)
        self.rows[key] = entry
        _progress(key, result)
        return result

    def pool_for(self, rate: float) -> int:
        """Prepared items each load process needs to keep `rate` calls/s up through warm-up and window."""
        need = rate * (self.args.warmup + self.args.seconds + 0.5) * 1.25 / self.args.processes
        return int(min(max(need, 300), 50_000))

    # ------------------------------------------------------------------------------------- servers

    @contextlib.contextmanager
    def database(self, prefix: str) -> Iterator[str | None]:
        if self.pg is None:
            yield None
            return
        with self.pg.database(prefix) as name:
            yield name

    @contextlib.contextmanager
    def service(self, name: str, config: Path | None) -> Iterator[Server]:
        with self.database(name) as database:
            url = self.pg.sqlalchemy_url(database) if self.pg is not None and database else None
            extra = self.pg.backends() if self.pg is not None else None
            with serve_service(name, config, db_url=url, extra_pids=extra) as server:
                yield server

    # ----------------------------------------------------------------------------------------- rows

    def noop(self) -> None:
        with noop() as server:
            result = self.record(
                "noop",
                lambda: self.h2(server, NOOP_METHOD, b"", "Call"),
                None,
            )
            self.half = result.throughput / 2
            if not self.args.no_paced:
                self.rows["noop"]["paced"] = _result(self.h2(server, NOOP_METHOD, b"", "Call", rps=self.half))
            if self.wanted("noop-python"):
                self.record("noop-python", lambda: self.python(server, "bench.harness:noop_call", "Call"), None)

    def floor(self) -> None:
        if not self.wanted("floor", "floor-h2load"):
            return
        from bench.growth_bench import record_activity_body

        with self.database("floor") as database:
            if self.pg is not None and database:
                where = ["--pg", self.pg.dsn(database), "--pg-mode", self.args.pg_floor_mode]
                where += ["--pg-writers", str(self.args.pg_floor_writers)]
            else:
                where = ["--db", str(self.tmp / f"floor-{time.monotonic_ns()}.db")]
            with bench_server("bench.floor_server", *where, "--unique") as server:
                if self.pg is not None:
                    server.extra_pids = self.pg.backends()
                path = GROWTH + "RecordActivity"
                if self.wanted("floor-h2load"):
                    body = record_activity_body()
                    self.record(
                        "floor-h2load",
                        lambda: self.h2(server, path, body, "RecordActivity"),
                        lambda rps: self.h2(server, path, body, "RecordActivity", rps=rps),
                    )
                if self.wanted("floor"):
                    workload = "bench.growth_bench:record_activity"
                    self.record(
                        "floor",
                        lambda: self.python(server, workload, "RecordActivity"),
                        lambda rate: self.python(server, workload, "RecordActivity", rate=rate),
                    )

    def router(self) -> None:
        if not self.wanted("RouteApplicant"):
            return
        from bench.router_bench import router_config

        config = router_config(self._dir("router"), None)
        with self.service("router", config) as server:
            self._write_row(server, "RouteApplicant", "bench.router_bench:route")

    def rewards(self) -> None:
        if not self.wanted("Offer", "Claim", "Redeem"):
            return
        from bench.rewards_bench import bench_config

        with self.service("rewards", bench_config(self._dir("rewards"))) as server:
            offer_rate = 0.0
            if self.wanted("Offer"):
                offer_rate = self._write_row(server, "Offer", "bench.rewards_bench:offer").throughput
            # A prepared offer or coupon serves one call: each load process prepares enough for its share.
            guess = max(1.5 * offer_rate, 500.0)
            if self.wanted("Claim"):
                self._write_row(
                    server, "Claim", "bench.rewards_bench:claim", "bench.rewards_bench:prepare_offers", guess
                )
            if self.wanted("Redeem"):
                self._write_row(
                    server, "Redeem", "bench.rewards_bench:redeem", "bench.rewards_bench:prepare_coupons", guess
                )

    def growth(self) -> None:
        if not self.wanted("RecordActivity", "SpendPoints", "RedeemRight", "GetBalance"):
            return
        from bench.growth_bench import balance_body, bench_config

        with self.service("growth", bench_config(self._dir("growth"))) as server:
            _setup(server.address, "bench.growth_bench:prepare_funded_members")
            for key, workload in (
                ("RecordActivity", "bench.growth_bench:record_activity"),
                ("SpendPoints", "bench.growth_bench:spend_points"),
                ("RedeemRight", "bench.growth_bench:redeem_right"),
            ):
                if self.wanted(key):
                    self._write_row(server, key, workload)
            if self.wanted("GetBalance"):
                path, body = GROWTH + "GetBalance", balance_body()
                self.record(
                    "GetBalance",
                    lambda: self.h2(server, path, body, "GetBalance"),
                    lambda rps: self.h2(server, path, body, "GetBalance", rps=rps),
                )

    def _write_row(
        self, server: Server, key: str, workload: str, prepare: str | None = None, guess: float | None = None
    ) -> LoadResult:
        def closed() -> LoadResult:
            pool = self.pool_for(guess) if guess else None
            result = self.python(server, workload, key, prepare=prepare, pool=pool)
            # The guess (or, with no Offer row to guess from, the workload's default pool) was low: again
            # with room to spare, sized from what the exhausted run reached (its window may be part-empty).
            rate = max(result.throughput, guess or 0.0, 500.0)
            for _ in range(2):
                if not (result.exhausted and prepare is not None):
                    break
                rate *= 2
                result = self.python(server, workload, key, prepare=prepare, pool=self.pool_for(rate))
            return result

        def paced(rate: float) -> LoadResult:
            pool = self.pool_for(rate) if prepare else None
            return self.python(server, workload, key, prepare=prepare, pool=pool, rate=rate)

        return self.record(key, closed, paced)

    def _dir(self, name: str) -> Path:
        path = self.tmp / f"{name}-{time.monotonic_ns()}"
        path.mkdir(parents=True)
        return path

    def all(self) -> dict[str, Any]:
        load_before = os.getloadavg()
        fsync_before = fsync_ms(self.tmp)
        started = time.time()
        self.noop()
        for group, keys in (
            (self.floor, ("floor-h2load", "floor")),
            (self.router, ("RouteApplicant",)),
            (self.rewards, ("Offer", "Claim", "Redeem")),
            (self.growth, ("RecordActivity", "SpendPoints", "RedeemRight", "GetBalance")),
        ):
            try:
                group()
            except Exception as exc:  # a server that does not start (or a row that breaks) spoils only its rows
                message = " ".join(str(exc).split())[-300:]
                print(f"  {group.__name__} failed: {type(exc).__name__}: {message}", flush=True)
                for key in keys:
                    if self.wanted(key) and key not in self.rows:
                        self.rows[key] = {"error": f"{type(exc).__name__}: {message}"}
        with noop() as server:  # again at the end: how far the machine drifted during the run
            end = self.h2(server, NOOP_METHOD, b"", "Call").throughput
        reference = self.rows["noop"]["throughput"]
        for key, entry in self.rows.items():
            if "throughput" in entry:
                entry["ratio"] = entry["throughput"] / reference if reference else None
            if key.startswith("noop"):
                entry["extra_cpu"] = None  # the no-op has no database
        return {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "seconds": round(time.time() - started, 1),
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
            "fsync_ms_before": fsync_before,
            "fsync_ms_after": fsync_ms(self.tmp),
            "half_noop_rate": self.half,
            "noop_end": end,
            "noop_drift_pct": round(100 * (end - reference) / reference, 1) if reference else None,
            "rows": self.rows,
        }


def fsync_ms(directory: Path, times: int = 20) -> float:
    """Median milliseconds of a 4 KiB append + fsync where the databases live: the disk's share of the noise
    (a durable commit waits for one)."""
    path = directory / "fsync-probe"
    took = []
    with open(path, "ab") as f:
        for _ in range(times):
            started = time.perf_counter()
            f.write(b"x" * 4096)
            f.flush()
            os.fsync(f.fileno())
            took.append((time.perf_counter() - started) * 1000)
    path.unlink()
    return round(statistics.median(took), 3)


def _setup(address: str, function: str) -> None:
    """A one-off preparation (e.g. enrol and fund the members) from this process, before any load."""
    module, _, name = function.partition(":")
    prepare = getattr(__import__(module, fromlist=[name]), name)

    async def run() -> None:
        async with grpc.aio.insecure_channel(address) as channel:
            await prepare(channel)

    asyncio.run(run())


def _progress(key: str, result: LoadResult) -> None:
    bad = f", not OK {result.not_ok}" if result.not_ok else ""
    errors = f", client errors {result.errors} ({result.first_error[:80]})" if result.errors else ""
    print(
        f"  {key:<15} {result.throughput:>9,.0f} OK/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:7.2f} ms  "
        f"client {result.client_cpu:.2f} / server {result.server_cpu:.2f} cores{bad}{errors}",
        flush=True,
    )


# ------------------------------------------------------------------------------------------ summary


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per row: the median of each figure over the runs, and the spread of its rate and ratio."""
    summary = []
    for row in ROWS:
        entries = [run["rows"][row.key] for run in runs if "throughput" in run["rows"].get(row.key, {})]
        failures = [run["rows"][row.key]["error"] for run in runs if "error" in run["rows"].get(row.key, {})]
        if not entries:
            if failures:
                summary.append({"key": row.key, "label": row.label, "what": row.what, "error": failures[0]})
            continue
        rates = [e["throughput"] for e in entries]
        ratios = [e["ratio"] for e in entries if e.get("ratio") is not None]
        paced = [e["paced"] for e in entries if "paced" in e]
        median_rate = statistics.median(rates)
        server_ms = [1000 * e["server_cpu"] / e["throughput"] for e in entries if e["throughput"]]
        summary.append(
            {
                "key": row.key,
                "label": row.label,
                "what": row.what,
                "generator": entries[0]["generator"],
                "runs": len(entries),
                "calls_s": median_rate,
                "calls_s_min": min(rates),
                "calls_s_max": max(rates),
                "spread_pct": 100 * (max(rates) - min(rates)) / 2 / median_rate if median_rate else None,
                "ratio": _median(ratios),
                "ratio_min": min(ratios) if ratios else None,
                "ratio_max": max(ratios) if ratios else None,
                "p50_ms": _median([e["p50_ms"] for e in entries]),
                "p99_ms": _median([e["p99_ms"] for e in entries]),
                "client_cpu": _median([e["client_cpu"] for e in entries]),
                "server_cpu": _median([e["server_cpu"] for e in entries]),
                "db_cpu": _median([e["extra_cpu"] for e in entries if e["extra_cpu"] is not None]),
                "failed_runs": len(failures),
                "server_cpu_ms_per_call": _median(server_ms),
                "not_ok": _sum_codes([e["not_ok"] for e in entries]),
                "client_errors": sum(e["errors"] for e in entries),
                "paced_runs": len(paced),
                "paced_offered": _median([p["offered"] for p in paced]),
                "paced_calls_s": _median([p["throughput"] for p in paced]),
                "paced_p50_ms": _median([p["p50_ms"] for p in paced]),
                "paced_p99_ms": _median([p["p99_ms"] for p in paced]),
                "paced_p99_max_ms": max((p["p99_ms"] for p in paced), default=None),
                "paced_client_cpu": _median([p["client_cpu"] for p in paced]),
                "paced_late_pct": _median([100 * p["late"] / max(1, p["client_ok"] + p["errors"]) for p in paced]),
                "paced_generator": paced[0]["generator"] if paced else None,
                "paced_skipped": next((e["paced_skipped"] for e in entries if "paced_skipped" in e), None),
            }
        )
    return summary


def _sum_codes(dicts: list[dict[str, float]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for each in dicts:
        for code, n in each.items():
            total[code] = total.get(code, 0) + n
    return total


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


def markdown(summary: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    pg = meta["engine"] == "postgres"
    head = [
        "row",
        "generator",
        "calls/s",
        "ratio (min–max)",
        "spread",
        "p50 ms",
        "p99 ms",
        "p99 ms at ½ no-op rate",
        "client CPU",
        "server CPU",
        *(["db CPU"] if pg else []),
        "server ms/call",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for s in summary:
        if "error" in s:
            lines.append(
                "| " + " | ".join([s["label"], f"failed: {s['error'][:160]}", *["–"] * (len(head) - 2)]) + " |"
            )
            continue
        generator = s["generator"].replace(" proc", " processes")
        if s["paced_p99_ms"] is not None:
            late = (
                f", {s['paced_late_pct']:.0f}% started late" if s["paced_late_pct"] and s["paced_late_pct"] >= 1 else ""
            )
            partial = f", {s['paced_runs']} of {s['runs']} runs" if s["paced_runs"] < s["runs"] else ""
            paced = f"{_num(s['paced_p99_ms'], 1)} (at {_num(s['paced_offered'], 0)}/s{late}{partial})"
        elif s["paced_skipped"]:
            paced = "saturates below it"
        else:
            paced = "–"
        label = f"**{s['label']}**" if s["key"] in ("noop", "floor-h2load", "floor") else s["label"]
        not_ok = f" ⚠ not OK: {s['not_ok']}" if s["not_ok"] else ""
        not_ok += f" ⚠ failed in {s['failed_runs']} run(s)" if s["failed_runs"] else ""
        cells = [
            label + not_ok,
            generator,
            _num(s["calls_s"], 0),
            f"{_num(s['ratio'])} ({_num(s['ratio_min'])}–{_num(s['ratio_max'])})",
            f"±{_num(s['spread_pct'], 0)}%",
            _num(s["p50_ms"], 1),
            _num(s["p99_ms"], 1),
            paced,
            _num(s["client_cpu"]),
            _num(s["server_cpu"]),
            *([_num(s["db_cpu"])] if pg else []),
            _num(s["server_cpu_ms_per_call"], 3),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    loads = ", ".join(f"{run['loadavg_before'][0]:.1f}→{run['loadavg_after'][0]:.1f}" for run in meta["run_info"])
    drift = ", ".join(
        f"{run['noop_drift_pct']:+.0f}%" if run.get("noop_drift_pct") is not None else "–" for run in meta["run_info"]
    )
    fsyncs = ", ".join(
        f"{_num(run.get('fsync_ms_before'))}→{_num(run.get('fsync_ms_after'))}" for run in meta["run_info"]
    )
    lines += [
        "",
        f"`{meta['command']}` — engine {meta['engine']}, {meta['runs']} run(s) × {meta['seconds']:g} s "
        f"(+{meta['warmup']:g} s warm-up), {meta['cpus']} CPUs, load average per run {loads}, fsync ms {fsyncs}, "
        f"no-op at the end of each run vs its start {drift}; "
        f"commit {meta['commit']}{' + uncommitted changes' if meta['dirty'] else ''}; {meta['measured_at']}.",
    ]
    if meta.get("pg_floor"):
        lines.append(f"PostgreSQL: {meta.get('pg')}; floor server mode {meta['pg_floor']}.")
    if meta["runs"] < 3:
        lines.append("**Fewer than 3 runs: not a result, a smoke test.**")
    return "\n".join(lines) + "\n"


def update_docs(table: str, engine: str) -> None:
    """Puts the table into docs/benchmarks.md between `<!-- suite-<engine> -->` and `<!-- /suite-<engine> -->`."""
    begin, end = f"<!-- suite-{engine} -->", f"<!-- /suite-{engine} -->"
    text = DOCS.read_text(encoding="utf-8")
    if begin not in text or end not in text:
        raise SystemExit(f"{DOCS.relative_to(REPO)} has no {begin} … {end} markers")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    DOCS.write_text(f"{head}{begin}\n{table}{end}{tail}", encoding="utf-8")


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs; each figure is the median over them (≥ 3)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measuring window per row")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up before each window")
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--pg-url", help="postgres: use this server (postgresql://user@host:port) instead of a private cluster"
    )
    parser.add_argument("--pg-floor-mode", choices=["batch", "pool"], default="batch", help="postgres floor server")
    parser.add_argument("--pg-floor-writers", type=int, default=1, help="postgres floor, batch mode: connections")
    parser.add_argument("--processes", type=int, default=4, help="Python load processes for the write rows")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent calls in all (closed loop)")
    parser.add_argument("--only", help=f"comma-separated rows (the no-op always runs): {','.join(ROW_KEYS)}")
    parser.add_argument("--no-paced", action="store_true", help="skip the paced (½ no-op rate) measurements")
    parser.add_argument("--update-docs", action="store_true", help="write the table into docs/benchmarks.md")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where suite-<engine>.json/.md go")
    parser.add_argument("--render", type=Path, help="only re-render the table (and --update-docs) from a suite JSON")
    args = parser.parse_args()
    if args.render:
        saved = json.loads(args.render.read_text())
        table = markdown(summarize(saved["runs"]), saved["meta"])
        args.render.with_suffix(".md").write_text(table)
        print(table)
        if args.update_docs:
            update_docs(table, saved["meta"]["engine"])
        return
    if not h2load.available():
        raise SystemExit("h2load not found: apt-get install -y nghttp2-client")
    only = set(args.only.split(",")) if args.only else set(ROW_KEYS)
    if unknown := only - set(ROW_KEYS):
        raise SystemExit(f"unknown rows: {sorted(unknown)}; known: {ROW_KEYS}")
    runs: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-suite-") as tmp,
        postgres(args.pg_url) if args.engine == "postgres" else contextlib.nullcontext() as pg,
    ):
        for index in range(args.runs):
            print(f"run {index + 1}/{args.runs} ({args.engine})", flush=True)
            runs.append(Run(args, pg, Path(tmp), only).all())
    summary = summarize(runs)
    meta = {
        "engine": args.engine,
        "command": "python -m bench.suite " + " ".join(sys.argv[1:]),
        "runs": args.runs,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "processes": args.processes,
        "concurrency": args.concurrency,
        "pg_floor": f"{args.pg_floor_mode}, {args.pg_floor_writers} writer(s)" if args.engine == "postgres" else None,
        "pg": "private cluster" if args.engine == "postgres" and not args.pg_url else args.pg_url,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "h2load": subprocess.run([h2load.H2LOAD, "--version"], capture_output=True, text=True).stdout.strip(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--", "services", "bench")),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "run_info": [{k: v for k, v in run.items() if k != "rows"} for run in runs],
    }
    table = markdown(summary, meta)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = args.out / f"suite-{args.engine}.json", args.out / f"suite-{args.engine}.md"
    json_path.write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs}, indent=2) + "\n")
    md_path.write_text(table)
    print()
    print(table)
    print(f"written: {json_path} and {md_path}")
    if args.update_docs:
        update_docs(table, args.engine)
        print(f"table written into {DOCS}")


if __name__ == "__main__":
    main()
