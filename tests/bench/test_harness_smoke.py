"""The benchmark harness still runs: about a second of load against the no-op handler from both
generators, counted by the server. Nothing here asserts on speed (the machine may be busy)."""

from __future__ import annotations

import pytest

from bench import h2load
from bench.harness import NOOP_METHOD, drive_processes, noop, parse_request_counts
from bench.suite import markdown, summarize


def test_python_generator_counts_only_what_the_server_counted_ok() -> None:
    with noop() as server:
        closed = drive_processes(
            server.address,
            "bench.harness:noop_call",
            processes=2,
            concurrency=4,
            seconds=0.5,
            warmup=0.2,
            server=server,
            method="Call",
        )
        paced = drive_processes(
            server.address,
            "bench.harness:noop_call",
            processes=2,
            seconds=0.5,
            warmup=0.2,
            rate=200,
            server=server,
            method="Call",
        )
    assert closed.ok > 0 and closed.client_ok > 0 and closed.not_ok == {} and closed.errors == 0
    assert closed.server_cpu > 0 and closed.client_cpu > 0
    assert 0 < closed.p50_ms <= closed.p99_ms
    assert paced.offered == 200 and paced.client_ok > 0


def test_h2load_drives_the_noop_and_the_server_counts_it() -> None:
    with noop() as server:
        result = h2load.run(server, NOOP_METHOD, b"", method="Call", seconds=1, warmup=0)
    assert result.ok > 0 and result.not_ok == {}
    assert result.p99_ms >= result.p50_ms > 0


def test_h2load_body_is_one_grpc_message() -> None:
    assert h2load.grpc_frame(b"abc") == b"\x00\x00\x00\x00\x03abc"


def test_request_counts_are_read_by_method_and_code() -> None:
    text = (
        "# TYPE skylane_grpc_requests_total counter\n"
        'skylane_grpc_requests_total{service="growth",method="GetBalance",code="OK"} 12.0\n'
        'skylane_grpc_requests_total{service="growth",method="GetBalance",code="NOT_FOUND"} 3.0\n'
        'skylane_grpc_requests_created{service="growth",method="GetBalance",code="OK"} 1.7e9\n'
    )
    assert parse_request_counts(text) == {("GetBalance", "OK"): 12.0, ("GetBalance", "NOT_FOUND"): 3.0}


def test_summary_takes_medians_and_ratios_per_run() -> None:
    def row(rate: float, ratio: float) -> dict[str, object]:
        return {
            "throughput": rate,
            "ratio": ratio,
            "generator": "h2load -c 1 -m 32",
            "p50_ms": 1.0,
            "p99_ms": 2.0,
            "client_cpu": 0.1,
            "server_cpu": 1.0,
            "extra_cpu": None,
            "not_ok": {},
            "errors": 0,
        }

    runs = [
        {
            "rows": {"noop": row(r, 1.0), "GetBalance": row(r * f, f)},
            "loadavg_before": [0, 0, 0],
            "loadavg_after": [0, 0, 0],
        }
        for r, f in ((1000, 0.5), (1200, 0.7), (800, 0.6))
    ]
    summary = {s["key"]: s for s in summarize(runs)}
    assert summary["noop"]["calls_s"] == 1000 and summary["noop"]["spread_pct"] == 20
    assert summary["GetBalance"]["ratio"] == 0.6
    assert (summary["GetBalance"]["ratio_min"], summary["GetBalance"]["ratio_max"]) == (0.5, 0.7)
    meta = {
        "engine": "sqlite",
        "command": "python -m bench.suite",
        "runs": 3,
        "seconds": 5,
        "warmup": 1,
        "cpus": 2,
        "commit": "abc",
        "dirty": False,
        "measured_at": "now",
        "run_info": [{"loadavg_before": [0, 0, 0], "loadavg_after": [0, 0, 0]}] * 3,
    }
    table = markdown(list(summary.values()), meta)
    assert "| GetBalance | h2load -c 1 -m 32 | 500 | 0.60 (0.50–0.70) |" in table


def test_per_call_cpu_splits_the_servers_cpu_by_thread() -> None:
    import os

    from bench.per_call_cpu import per_call, thread_cpu

    with noop() as server:
        threads = thread_cpu(server.pid)
        split = per_call(server, NOOP_METHOD, b"", "Call", rate=200, seconds=0.5)
    assert "main" in threads and len(threads) > 1 and all(v >= 0 for v in threads.values())
    assert split["main"] > 0 and split["all"] == pytest.approx(split["main"] + split["others"])
    assert thread_cpu(os.getpid())["main"] > 0  # the caller's own main thread is found by its pid
