"""h2load (Debian's nghttp2-client) as a gRPC load generator: one gRPC-framed body sent over and over on
1 connection x 32 streams (h2c with prior knowledge on http://). It is written in C and saturates a
grpc.aio server that no Python client can, so the no-op handler's rate it reaches is the reference.

h2load counts HTTP 200s, and a gRPC error is an HTTP 200 too: the calls/s reported here are the OK calls
the server itself counted in the window (Server.counts); h2load's own figures give the latencies
(from its per-request log) and the non-OK codes show in `not_ok`.

    apt-get install -y nghttp2-client
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bench.harness import LoadResult, Sampler, Server, percentile

H2LOAD = os.environ.get("BENCH_H2LOAD", "h2load")
_REQUESTS = re.compile(
    r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored"
)


def available() -> bool:
    return shutil.which(H2LOAD) is not None


def grpc_frame(message: bytes) -> bytes:
    """One gRPC length-prefixed message: not compressed, 4-byte big-endian length, the serialized proto."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def _command(url: str, body: Path, seconds: float, streams: int, connections: int, rps: float | None) -> list[str]:
    args = [H2LOAD, "-c", str(connections), "-m", str(streams), "-D", f"{max(1, round(seconds * 1000))}ms"]
    args += ["-H", "content-type: application/grpc", "-H", "te: trailers", "-d", str(body)]
    if rps:
        args += ["--rps", str(max(1, round(rps / connections)))]
    return [*args, url]


def run(
    server: Server,
    path: str,
    message: bytes,
    *,
    method: str,
    seconds: float = 5.0,
    warmup: float = 1.0,
    streams: int = 32,
    connections: int = 1,
    rps: float | None = None,
) -> LoadResult:
    """Drives `path` (e.g. /skylane.growth.v1.GrowthService/GetBalance) on server with one body for
    `seconds` after a separate warm-up run; `rps` paces it (h2load --rps, per connection)."""
    if not available():
        raise RuntimeError("h2load not found: apt-get install -y nghttp2-client (or set BENCH_H2LOAD)")
    url = f"http://{server.address}{path}"
    with tempfile.TemporaryDirectory(prefix="bench-h2load-") as tmp:
        body = Path(tmp) / "body.bin"
        body.write_bytes(grpc_frame(message))
        if warmup > 0:
            subprocess.run(
                _command(url, body, warmup, streams, connections, rps), capture_output=True, text=True, check=True
            )
        log = Path(tmp) / "requests.log"
        command = [*_command(url, body, seconds, streams, connections, rps), f"--log-file={log}"]
        sampler = Sampler(server, method)
        sampler.sample()
        with open(Path(tmp) / "out.txt", "w+") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            sampler.sample()
            out.seek(0)
            text = out.read()
        if process.returncode != 0:
            raise RuntimeError(f"h2load failed ({process.returncode}):\n{text[-2000:]}")
        latencies = sorted(int(cols[2]) for cols in _log_rows(log) if cols[1] == "200")
    window, server_cpu, extra_cpu, ok, not_ok = sampler.window()
    # h2load resets the streams still open when its duration ends: up to one CANCELLED per stream is that.
    cut = not_ok.get("CANCELLED", 0.0)
    if cut <= streams * connections:
        not_ok.pop("CANCELLED", None)
    found = _REQUESTS.search(text)
    succeeded = int(found.group(4)) if found else len(latencies)
    errors = sum(int(found.group(i)) for i in (5, 6)) if found else 0
    paced = f", --rps {round(rps)}" if rps else ""
    return LoadResult(
        generator=f"h2load -c {connections} -m {streams}{paced}",
        seconds=window,
        ok=ok if ok is not None else float(succeeded),
        not_ok=not_ok,
        client_ok=succeeded,
        errors=errors,
        p50_ms=percentile(latencies, 0.50) / 1000,
        p99_ms=percentile(latencies, 0.99) / 1000,
        client_cpu=(usage.ru_utime + usage.ru_stime) / window,
        server_cpu=server_cpu,
        extra_cpu=extra_cpu,
        offered=rps,
        notes=f"{cut:.0f} streams cut at the end" if cut else "",
    )


def _log_rows(log: Path) -> list[list[str]]:
    try:
        return [line.split("\t") for line in log.read_text().splitlines() if line.count("\t") >= 2]
    except OSError:
        return []


def _self_check() -> None:  # pragma: no cover - manual: python -m bench.h2load
    from bench.harness import NOOP_METHOD, noop

    with noop() as server:
        started = time.monotonic()
        result = run(server, NOOP_METHOD, b"", method="Call", seconds=2, warmup=0.5)
        print(f"{result.throughput:,.0f} OK calls/s in {time.monotonic() - started:.1f}s: {result}")


if __name__ == "__main__":
    _self_check()
