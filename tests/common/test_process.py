"""`skylane serve` as a real process: SIGTERM drains in-flight calls and exits 0; SIGHUP reloads."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc

from bench.harness import free_port
from services.common.db import default_sqlite_url
from services.common.settings import AppSettings
from services.registry import DEMO_PARTNER_PORTS, SERVICES
from skylane.common.v1 import admin_pb2, admin_pb2_grpc
from tests.helpers import serve_args, wait_serving

REPO = Path(__file__).resolve().parents[2]


def _spawn(tmp_path: Path, service: str) -> tuple[subprocess.Popen[bytes], str]:
    """The service as its own process on its default embedded SQLite database under tmp_path/var."""
    port = free_port()
    return _popen(serve_args(tmp_path, service, port, "--grace", "5"), tmp_path), f"127.0.0.1:{port}"


def _popen(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DB_URL")}
    return subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


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


# The suite's default ports (services, their metrics, the demo partner lenders). Tests never bind them, so
# `pytest` can run beside `skylane serve all --with-partner-sim` started from the repository folder.
DEFAULT_PORTS = {
    **{f"SKYLANE_{name.upper()}_PORT": entry.default_port for name, entry in SERVICES.items()},
    **{f"SKYLANE_{name.upper()}_METRICS_PORT": entry.default_metrics_port for name, entry in SERVICES.items()},
    **{f"partner-{n}": port for n, port in enumerate(DEMO_PARTNER_PORTS, start=1)},
}


def _free_ports(count: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def _moved_off_default_ports(tmp_path: Path) -> tuple[dict[str, int], dict[str, str]]:
    """A copy of config/ under tmp_path whose router, partner endpoints and demo partners use free ports,
    and the environment that moves `serve all` there too: {default port: its replacement}, env."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    moved = dict(zip(DEFAULT_PORTS.values(), _free_ports(len(DEFAULT_PORTS)), strict=True))
    for name in ("router.yaml", "scenarios/partners.yaml"):
        path = tmp_path / "config" / name
        text = path.read_text(encoding="utf-8")
        for default, port in moved.items():
            text = re.sub(rf"\b{default}\b", str(port), text)
        path.write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DB_URL")}
    env.update({name: str(moved[port]) for name, port in DEFAULT_PORTS.items() if name.startswith("SKYLANE_")})
    return moved, env


def _spawn_all(tmp_path: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "all", "--with-partner-sim", "--grace", "3", *extra],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def test_readme_main_command_serves_all_three_with_demo_partners(tmp_path: Path) -> None:
    """`skylane serve all --with-partner-sim` from a directory holding config/ (with every port moved off the
    defaults, so a demo on them is not touched): health, routing, metrics, databases under ./var."""
    from bench.router_bench import _request
    from skylane.router.v1 import router_pb2_grpc

    moved, env = _moved_off_default_ports(tmp_path)
    process = _spawn_all(tmp_path, env)
    try:
        for entry in SERVICES.values():
            await wait_serving(f"127.0.0.1:{moved[entry.default_port]}", process)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{moved[SERVICES['router'].default_port]}") as channel:
            decision = await router_pb2_grpc.RouterServiceStub(channel).RouteApplicant(_request(0, 1))
        assert decision.decision_id and decision.config_version
        metrics = await asyncio.to_thread(_scrape, moved[SERVICES["router"].default_metrics_port])
        assert "skylane_grpc_requests_total" in metrics
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
        assert (tmp_path / "var" / "router.db").exists() and (tmp_path / "var" / "rewards.db").exists()
    finally:
        if process.poll() is None:
            process.kill()


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
        return str(reply.read().decode())


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


def _shipped_model(name: str, tmp_path: Path) -> Any:
    settings = AppSettings(config_path=REPO / "config" / f"{name}.yaml", db_url=default_sqlite_url(name, tmp_path))
    return SERVICES[name].build(settings).config.model


def test_shipped_configs_have_something_live_today_and_for_years_to_come(tmp_path: Path) -> None:
    """The example config works on any date: no campaign window that silently runs out (they did, 2026-04-01)."""
    for name, entry in SERVICES.items():
        model = _shipped_model(name, tmp_path)
        for years in (0, 1, 10, 50):
            assert entry.nothing_live(model, datetime.now(UTC) + timedelta(days=365 * years)) == [], name


def test_nothing_live_names_the_reason_for_each_service(tmp_path: Path) -> None:
    router = _shipped_model("router", tmp_path)
    declining = router.model_copy(
        update={
            "policy": router.policy.model_copy(
                update={"tiers": [t.model_copy(update={"route": "decline"}) for t in router.policy.tiers]}
            )
        }
    )
    assert "every tier routes to decline" in SERVICES["router"].nothing_live(declining, datetime.now(UTC))[0]
    no_lenders = router.model_copy(
        update={
            "policy": router.policy.model_copy(update={"in_house": None, "tiers": router.policy.tiers[1:]}),
            "partners": router.partners.model_copy(update={"lenders": []}),
        }
    )
    assert "no enabled, allow-listed lender" in SERVICES["router"].nothing_live(no_lenders, datetime.now(UTC))[0]
    growth = _shipped_model("growth", tmp_path).model_copy(update={"tasks": []})
    assert "no tasks" in SERVICES["growth"].nothing_live(growth, datetime.now(UTC))[0]


async def test_nothing_live_is_warned_at_start_and_shown_in_the_admin_config(tmp_path: Path) -> None:
    port = free_port()
    args = serve_args(tmp_path, "rewards", port)
    config_file = tmp_path / "config" / "rewards.yaml"
    ended = re.sub(r"end: \d{4}-\S+", "end: 2026-04-01T00:00:00+08:00", config_file.read_text(encoding="utf-8"))
    config_file.write_text(ended, encoding="utf-8")
    process = _popen(args, tmp_path)
    try:
        await wait_serving(f"127.0.0.1:{port}", process)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            info = await admin_pb2_grpc.AdminStub(channel).GetConfig(admin_pb2.GetConfigRequest())
        assert info.timezone == "Asia/Shanghai"
        assert len(info.warnings) == 1
        assert (
            "NO_ACTIVE_CAMPAIGN" in info.warnings[0]
            and "qilu-mall 2026-01-01 00:00 to 2026-04-01 00:00" in info.warnings[0]
        )
        process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(process.wait, 30) == 0
        out, _ = process.communicate()
        assert b'"event": "nothing_live"' in out and b"NO_ACTIVE_CAMPAIGN" in out
    finally:
        if process.poll() is None:
            process.kill()
