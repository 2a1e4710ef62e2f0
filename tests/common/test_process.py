"""`skylane serve` as a real process: SIGTERM drains in-flight calls and exits 0; SIGHUP reloads."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import grpc

from bench.harness import free_port
from skylane.common.v1 import admin_pb2, admin_pb2_grpc
from tests.support import serve_args, wait_serving

REPO = Path(__file__).resolve().parents[2]


def _spawn(tmp_path: Path, service: str) -> tuple[subprocess.Popen[bytes], str]:
    """The service as its own process on its default embedded SQLite database under tmp_path/var."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DB_URL")}
    args = serve_args(tmp_path, service, port, "--grace", "5")
    return subprocess.Popen(
        args, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ), f"127.0.0.1:{port}"


async def test_sigterm_drains_in_flight_call_then_exits_zero(tmp_path: Path) -> None:
    process, address = _spawn(tmp_path, "growth")
    try:
        await wait_serving(address, process)
        async with grpc.aio.insecure_channel(address) as channel:
            admin = admin_pb2_grpc.AdminStub(channel)
            in_flight = asyncio.ensure_future(admin.Probe(admin_pb2.ProbeRequest(hold_ms=1500)))
            await asyncio.sleep(0.5)
            process.send_signal(signal.SIGTERM)
            answer = await in_flight
        assert answer.service == "growth"
        assert await asyncio.to_thread(process.wait, 30) == 0
        out, _ = process.communicate()
        assert b"shutdown_requested" in out and b"service_stopped" in out
    finally:
        if process.poll() is None:
            process.kill()


async def test_sighup_with_invalid_file_keeps_running_version(tmp_path: Path) -> None:
    process, address = _spawn(tmp_path, "rewards")
    try:
        await wait_serving(address, process)
        async with grpc.aio.insecure_channel(address) as channel:
            admin = admin_pb2_grpc.AdminStub(channel)
            before = (await admin.GetConfig(admin_pb2.GetConfigRequest())).version
            config_file = tmp_path / "config" / "rewards.yaml"
            config_file.write_text(config_file.read_text() + "\ntimezone_typo: true\n")
            process.send_signal(signal.SIGHUP)
            await asyncio.sleep(1.0)
            assert (await admin.GetConfig(admin_pb2.GetConfigRequest())).version == before
            await admin.Probe(admin_pb2.ProbeRequest())
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
        out, _ = process.communicate()
        assert b"config_reload_refused" in out and b"timezone_typo: unknown key" in out
    finally:
        if process.poll() is None:
            process.kill()


def test_cli_help_explains_every_serve_option() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "--help"], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    for option in ("--host", "--port", "--metrics-port", "--db-url", "--grace", "--config-dir", "--var-dir"):
        assert option in out
    assert "router" in out and "all" in out


def _spawn_all(tmp_path: Path) -> subprocess.Popen[bytes]:
    shutil.copytree(REPO / "config", tmp_path / "config")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DB_URL")}
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "all", "--with-partner-sim", "--grace", "3"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def test_readme_main_command_serves_all_three_with_demo_partners(tmp_path: Path) -> None:
    """`skylane serve all --with-partner-sim` from a directory holding config/: default ports, health, routing."""
    from bench.router_bench import _request
    from skylane.router.v1 import router_pb2_grpc

    process = _spawn_all(tmp_path)
    try:
        for port in (50051, 50052, 50053):
            await wait_serving(f"127.0.0.1:{port}", process)
        async with grpc.aio.insecure_channel("127.0.0.1:50051") as channel:
            decision = await router_pb2_grpc.RouterServiceStub(channel).RouteApplicant(_request(0, 1))
        assert decision.decision_id and decision.config_version
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
        assert (tmp_path / "var" / "router.db").exists() and (tmp_path / "var" / "rewards.db").exists()
    finally:
        if process.poll() is None:
            process.kill()


def test_per_service_options_are_refused_for_all(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "all", "--metrics-port", "0"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--metrics-port" in result.stderr and "single service" in result.stderr
