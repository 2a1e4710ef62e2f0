"""The CLI as a whole: every command takes --json, every ops RPC has a command, piped tables are never cut,
and the long-running partner lenders speak JSON lines too."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.harness import free_port
from services.cli import build_parser
from skylane.common.v1 import admin_pb2, events_pb2
from skylane.growth.v1 import growth_pb2
from skylane.rewards.v1 import rewards_pb2
from skylane.router.v1 import leads_pb2, router_pb2
from tests.cli.conftest import Running
from tests.helpers import REPO

CLI_SOURCES = [
    REPO / "services" / "common" / "cli_client.py",
    *(REPO / "services" / name / "cli.py" for name in ("router", "growth", "rewards", "demo")),
    REPO / "services" / "router" / "partners" / "cli.py",
    REPO / "services" / "rewards" / "journeys_cli.py",
]


def leaf_commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return {path: parser}
    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    for group in groups:
        for name, sub in group.choices.items():
            found.update(leaf_commands(sub, (*path, name)))
    return found


def test_every_command_takes_json() -> None:
    leaves = leaf_commands(build_parser())
    assert ("router", "dead-letters", "replay") in leaves and ("rewards", "report") in leaves and ("demo",) in leaves
    missing = [" ".join(path) for path, parser in leaves.items() if "--json" not in parser._option_string_actions]
    assert missing == []


def test_every_ops_rpc_has_a_command(running: Running) -> None:
    """Every method of an *OpsService, of Admin, and each service's other ops methods (LeadService's views and
    repairs, rewards' campaign report) is called by some CLI command."""
    methods = {m.name for m in admin_pb2.DESCRIPTOR.services_by_name["Admin"].methods}
    for module in (router_pb2, leads_pb2, growth_pb2, rewards_pb2, events_pb2):
        for service in module.DESCRIPTOR.services_by_name.values():
            if service.name.endswith("OpsService"):
                methods |= {m.name for m in service.methods}
    for service in running.suite.services.values():
        methods |= {full.rsplit("/", 1)[1] for full in service.app.ops_methods()}
    source = "\n".join(path.read_text(encoding="utf-8") for path in CLI_SOURCES)
    assert sorted(m for m in methods if f".{m}(" not in source) == []
    assert {"GetPartnerReport", "ListDeadLetters", "ReplayDeadLetter", "GetCampaignReport"} <= methods


def _piped(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES") and not k.startswith("SKYLANE_")}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_piped_tables_keep_every_column_whole(running: Running) -> None:
    partners = _piped("router", "partners", "report", "--address", running.address("router"))
    assert "…" not in partners
    rows = [line.split() for line in partners.splitlines() if line.strip().startswith(("quickcash", "steadybank"))]
    assert len(rows) >= 2 and all(row[-1] in ("CLOSED", "OPEN", "HALF_OPEN") for row in rows[:2])
    assert max(len(line) for line in partners.splitlines()) > 80  # wider than a terminal would be: nothing cut

    rewards = _piped("rewards", "report", "--address", running.address("rewards"))
    assert "…" not in rewards
    budgets = next(line for line in rewards.splitlines() if line.strip().startswith("qilu-mall"))
    assert budgets.count("¥") == 5 and budgets.split()[-1].replace(".", "").isdigit()  # … down to λ


def test_partner_sim_prints_json_lines(tmp_path: Path) -> None:
    document = yaml.safe_load((REPO / "config" / "scenarios" / "partners.yaml").read_text(encoding="utf-8"))
    for partner in document["partners"]:
        partner["port"] = free_port()
    scenario = tmp_path / "partners.yaml"
    scenario.write_text(yaml.safe_dump(document), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "partner-sim", "--scenario", str(scenario), "--json", "--no-postbacks"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        listening = [json.loads(process.stdout.readline()) for _ in document["partners"]]
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    ports = {p["id"]: p["port"] for p in document["partners"]}
    assert [(e["event"], e["partner_id"], e["address"]) for e in listening] == [
        ("listening", pid, f"127.0.0.1:{port}") for pid, port in ports.items()
    ]
    stopped = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    stopped = [e for e in stopped if e.get("event") == "stopped"]
    assert [e["partner_id"] for e in stopped] == list(ports)
    assert set(stopped[0]) == {"event", "partner_id", "pings", "posts", "leads", "accepted", "postbacks"}


def test_serve_refuses_ports_and_intervals_the_system_would_take_for_something_else(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # 65536 was taken as "any free port" and 99999 as 34463; a poll interval of -1 or 1e-9 busy-looped.
    parser = build_parser()
    for args, said in (
        (["--port", "65536"], "argument --port: a port is 0 to 65535, got 65536"),
        (["--metrics-port", "-1"], "argument --metrics-port: a port is 0 to 65535, got -1"),
        (["--config-poll", "1e-9"], "argument --config-poll: must be 0 or at least 0.1"),
        (["--config-poll", "nan"], "argument --config-poll: must be a finite number at least 0"),
        (["--grace", "inf"], "argument --grace: must be a finite number at least 0"),
    ):
        with pytest.raises(SystemExit) as stopped:
            parser.parse_args(["serve", "growth", *args])
        assert stopped.value.code == 2 and said in capsys.readouterr().err
    ok = parser.parse_args(["serve", "growth", "--port", "0", "--config-poll", "0"])
    assert (ok.port, ok.config_poll) == (0, 0.0)
