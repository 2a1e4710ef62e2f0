"""`skylane serve --event-loop uvloop` serves and shuts down like the default loop."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import grpc

from bench.harness import free_port
from skylane.common.v1 import admin_pb2, admin_pb2_grpc
from tests.helpers import serve_args, wait_serving


def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args)


async def test_a_service_on_uvloop_answers_and_exits_cleanly(tmp_path: Path) -> None:
    port = free_port()
    process = _spawn(serve_args(tmp_path, "growth", port, "--event-loop", "uvloop"))
    try:
        await wait_serving(f"127.0.0.1:{port}", process)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await admin_pb2_grpc.AdminStub(channel).Probe(admin_pb2.ProbeRequest())
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
