"""A taken port stops a server with one clear line and a non-zero exit: never a shared port or a traceback."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

from bench.harness import free_port
from services.common.metrics import ServiceMetrics
from services.common.ports import PortInUse, bind_grpc, check_free, port_options
from services.registry import DEMO_PARTNER_PORTS
from tests.helpers import REPO, serve_args, wait_serving


@contextmanager
def listener() -> Iterator[int]:
    """Something else listening on a free port (no SO_REUSEPORT), as another program would."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.endswith("_DB_URL") and k != "SKYLANE_REUSE_PORT"}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=_env(), cwd=cwd, capture_output=True, text=True, timeout=60)


def assert_one_line_refusal(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "E0000" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_port_options_turn_so_reuseport_off_unless_asked() -> None:
    assert port_options(False) == [("grpc.so_reuseport", 0)]
    assert port_options(True) == [("grpc.so_reuseport", 1)]


def test_check_free_refuses_a_listened_port_and_accepts_free_and_any() -> None:
    with listener() as port:
        with pytest.raises(PortInUse) as taken:
            check_free("127.0.0.1", port, "gRPC", "try another")
        assert str(taken.value) == f"gRPC port {port} on 127.0.0.1 is already in use (try another)"
        check_free("127.0.0.1", 0, "gRPC")  # any free port is always available
    check_free("127.0.0.1", free_port(), "gRPC")


async def test_grpc_server_refuses_a_port_another_grpc_server_holds() -> None:
    first = grpc.aio.server(options=port_options(False))
    port = bind_grpc(first, "127.0.0.1", 0)
    await first.start()
    try:
        second = grpc.aio.server(options=port_options(False))
        with pytest.raises(PortInUse, match=f"gRPC port {port} on 127.0.0.1 is already in use"):
            bind_grpc(second, "127.0.0.1", port)
        # Sharing on purpose needs both sides to say so: the first did not, so the replica is refused too.
        replica = grpc.aio.server(options=port_options(True))
        with pytest.raises(PortInUse, match="does not share it"):
            bind_grpc(replica, "127.0.0.1", port, reuse_port=True)
    finally:
        await first.stop(0)


async def test_replicas_started_with_reuse_port_share_the_port() -> None:
    first = grpc.aio.server(options=port_options(True))
    port = bind_grpc(first, "127.0.0.1", 0, reuse_port=True)
    await first.start()
    try:
        replica = grpc.aio.server(options=port_options(True))
        assert bind_grpc(replica, "127.0.0.1", port, reuse_port=True) == port
        await replica.start()
        await replica.stop(0)
    finally:
        await first.stop(0)


def test_metrics_endpoint_on_a_taken_port_raises_port_in_use() -> None:
    with listener() as port:
        with pytest.raises(PortInUse, match=f"metrics port {port} on 127.0.0.1 is already in use"):
            ServiceMetrics("growth").serve("127.0.0.1", port)


def test_serve_refuses_a_taken_grpc_port_in_one_line(tmp_path: Path) -> None:
    with listener() as port:
        result = _run(serve_args(tmp_path, "growth", port), tmp_path)
    assert_one_line_refusal(result, "cannot start growth", f"gRPC port {port}", "already in use", "--reuse-port")
    assert not (tmp_path / "var" / "growth.db").exists()  # refused before the database was touched


def test_serve_refuses_a_taken_metrics_port_in_one_line(tmp_path: Path) -> None:
    with listener() as taken:
        args = [a for a in serve_args(tmp_path, "rewards", free_port()) if a != "--no-metrics"]
        result = _run([*args, "--metrics-port", str(taken)], tmp_path)
    assert_one_line_refusal(result, "cannot start rewards", f"metrics port {taken}", "--metrics-port")


def test_serve_all_refuses_a_taken_port_given_through_the_environment(tmp_path: Path) -> None:
    shutil.copytree(REPO / "config", tmp_path / "config")
    with listener() as taken:
        env = {**_env(), "SKYLANE_GROWTH_PORT": str(taken), "SKYLANE_ROUTER_PORT": "0", "SKYLANE_REWARDS_PORT": "0"}
        result = subprocess.run(
            [sys.executable, "-m", "services.cli", "serve", "all", "--no-metrics"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert_one_line_refusal(result, "cannot start growth", f"gRPC port {taken}")


def _spawn(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=_env(), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_a_second_server_on_the_same_port_is_refused(tmp_path: Path) -> None:
    port = free_port()
    first = _spawn(serve_args(tmp_path, "growth", port), tmp_path)
    try:
        await wait_serving(f"127.0.0.1:{port}", first)
        second = await asyncio.to_thread(_run, serve_args(tmp_path / "second", "growth", port), tmp_path)
        assert_one_line_refusal(second, f"gRPC port {port}", "already in use")
    finally:
        first.terminate()
        await asyncio.to_thread(first.wait, 30)


async def test_reuse_port_lets_two_replicas_share_one_port(tmp_path: Path) -> None:
    port = free_port()
    replicas = [_spawn(serve_args(tmp_path / name, "growth", port, "--reuse-port"), tmp_path) for name in "ab"]
    try:
        for replica in replicas:
            await wait_serving(f"127.0.0.1:{port}", replica)
        await asyncio.sleep(1.0)
        assert [replica.poll() for replica in replicas] == [None, None]  # both still serving
    finally:
        for replica in replicas:
            replica.terminate()
        for replica in replicas:
            assert await asyncio.to_thread(replica.wait, 30) == 0


def _scenario_on(tmp_path: Path, port: int) -> Path:
    scenario = tmp_path / "partners.yaml"
    text = (REPO / "config" / "scenarios" / "partners.yaml").read_text(encoding="utf-8")
    scenario.write_text(text.replace(f"port: {DEMO_PARTNER_PORTS[0]}", f"port: {port}"), encoding="utf-8")
    return scenario


def test_partner_sim_refuses_a_taken_port_instead_of_sharing_it(tmp_path: Path) -> None:
    with listener() as taken:
        scenario = _scenario_on(tmp_path, taken)
        result = _run(
            [sys.executable, "-m", "services.cli", "partner-sim", "--scenario", str(scenario), "--only", "quickcash"],
            tmp_path,
        )
    assert_one_line_refusal(result, f"partner-sim quickcash port {taken}", "already in use")
    assert "listening" not in result.stdout


def test_serve_with_partner_sim_refuses_a_taken_partner_port(tmp_path: Path) -> None:
    with listener() as taken:
        scenario = _scenario_on(tmp_path, taken)
        args = serve_args(tmp_path, "router", 0, "--with-partner-sim", "--partner-sim-scenario", str(scenario))
        result = _run(args, tmp_path)
    assert_one_line_refusal(result, "cannot start partner-sim", f"port {taken}", "already in use")
