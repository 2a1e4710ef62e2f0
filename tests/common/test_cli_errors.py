"""Every `skylane` command ends bad arguments, an unreachable server and a closed pipe in one line on stderr
and a non-zero exit, never a traceback; times are read and shown in the service's configured time zone.

The CLI runs as a subprocess against real servers on free ports (never the default ones)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bench.harness import free_port
from services.common.cli_client import When, when_arg, window
from services.growth.app import build as build_growth
from services.router.app import build as build_router
from tests.growth.helpers import Client
from tests.growth.helpers import config as growth_config
from tests.helpers import REPO, Harness, db_target_for, running_service

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def skylane(*args: str, closed_stdout: bool = False) -> tuple[int, str, str]:
    """`skylane ARGS` as its own process: (exit code, stdout, stderr). With closed_stdout its standard
    output is a pipe nobody reads any more, as in `skylane ... | head -1` once head has left."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKYLANE_TLS_", "SKYLANE_DEBUG"))}
    read_end, write_end = os.pipe() if closed_stdout else (-1, -1)
    if closed_stdout:
        os.close(read_end)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        *args,
        cwd=REPO,
        env=env,
        stdout=write_end if closed_stdout else asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    if closed_stdout:
        os.close(write_end)
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, (out or b"").decode(), err.decode()


def assert_one_line_error(code: int, err: str, expected_code: int, *fragments: str) -> None:
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], err


@pytest.fixture
async def router(tmp_path: Path) -> AsyncIterator[Harness]:
    """The router on the shipped config (timezone Asia/Shanghai), on a free port, SQLite under tmp_path."""
    config = tmp_path / "router.yaml"
    shutil.copy(REPO / "config" / "router.yaml", config)
    async with (
        db_target_for("sqlite", tmp_path, "router") as target,
        running_service(build_router, target, config) as h,
    ):
        yield h


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["router", "report", "--since", "the day before"], "not a time: 'the day before'"),
        (["router", "what-if", "--version", "v1", "--samples", "0"], "must be at least 1"),
        (["router", "candidate", "rollout", "--share", "1.5"], "between 0 and 1"),
        (["router"], "required"),
        (["no-such-command"], "invalid choice"),
        (["growth", "statement"], "--member"),
        (["serve", "router", "--port", "eighty"], "--port: not a port number: 'eighty'"),
    ],
)
async def test_bad_arguments_are_one_line_usage_errors(args: list[str], fragment: str) -> None:
    code, _, err = await skylane(*args)
    assert_one_line_error(code, err, 2, "error:", fragment, "--help")


async def test_an_unreachable_server_is_one_line() -> None:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    commands = (
        ["router", "versions"],
        ["router", "report", "--since", "yesterday"],
        ["growth", "statement", "--member", "m-1"],
        ["growth", "maintenance"],
    )
    for code, _, err in await asyncio.gather(*(skylane(*args, "--address", address) for args in commands)):
        assert_one_line_error(code, err, 1, "UNAVAILABLE", address)


async def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    code, _, err = await skylane("router", "validate", str(missing), "--address", f"127.0.0.1:{free_port()}")
    assert_one_line_error(code, err, 1, str(missing), "No such file")
    code, _, err = await skylane("rewards", "simulate", "--scenario", str(missing))
    assert code != 0 and "Traceback" not in err and len(err.strip().splitlines()) <= 2  # names the file
    assert str(missing) in err


async def test_since_yesterday_is_read_in_the_router_time_zone(router: Harness) -> None:
    address = router.service.address
    code, out, err = await skylane("router", "report", "--since", "yesterday", "--address", address)
    assert code == 0, err
    yesterday = datetime.now(SHANGHAI).date() - timedelta(days=1)
    assert out.splitlines()[0].startswith(f"window {yesterday:%Y-%m-%d} 00:00 Asia/Shanghai to ")
    assert "decisions 0" in out

    code, out, err = await skylane(
        "router", "report", "--since", "2026-01-05 08:00", "--until", "2026-01-06T00:00:00+00:00", "--address", address
    )
    assert code == 0, err
    assert out.splitlines()[0] == "window 2026-01-05 08:00 Asia/Shanghai to 2026-01-06 08:00 Asia/Shanghai"

    code, _, err = await skylane("router", "report", "--since", "now", "--until", "36h", "--address", address)
    assert_one_line_error(code, err, 2, "--since", "must be before --until")


async def test_a_closed_pipe_is_one_line_and_non_zero(router: Harness) -> None:
    commands = (
        ["router", "versions", "--address", router.service.address],
        ["router", "report", "--address", router.service.address],
        ["router", "simulate", "--applicants", "200", "--no-progress"],  # rich output
    )
    for code, _, err in await asyncio.gather(*(skylane(*args, closed_stdout=True) for args in commands)):
        assert_one_line_error(code, err, 141, "broken pipe")


async def test_growth_statement_shows_times_in_the_growth_time_zone(tmp_path: Path) -> None:
    config = tmp_path / "growth.yaml"
    config.write_text(growth_config(), encoding="utf-8")  # timezone: Asia/Shanghai
    async with (
        db_target_for("sqlite", tmp_path, "growth") as target,
        running_service(build_growth, target, config) as h,
    ):
        growth = Client(h)
        ref = await growth.enroll()
        await growth.earn(ref, 70)
        code, out, err = await skylane("growth", "statement", "--member", ref, "--address", h.service.address)
    assert code == 0, err
    # The manual clock stands at 2026-01-05 09:00 UTC: 17:00 in Shanghai.
    assert "2026-01-05 17:00 Asia/Shanghai" in out and "UTC" not in out


def test_when_reads_naive_times_and_day_words_in_the_service_zone() -> None:
    now = datetime(2026, 1, 5, 20, 0, tzinfo=UTC)  # 04:00 on 6 January in Shanghai
    assert When("2026-01-05T08:00").at(SHANGHAI, now) == datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    assert When("2026-01-05T08:00+00:00").at(SHANGHAI, now) == datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    assert When("today").at(SHANGHAI, now) == datetime(2026, 1, 5, 16, 0, tzinfo=UTC)
    assert When("yesterday").at(SHANGHAI, now) == datetime(2026, 1, 4, 16, 0, tzinfo=UTC)
    assert When("36h").at(SHANGHAI, now) == now - timedelta(hours=36)
    assert When("now").at(SHANGHAI, now) == now
    since, until = window(When("2026-01-05"), When("2026-01-06"), SHANGHAI)
    assert (since, until) == (datetime(2026, 1, 4, 16, tzinfo=UTC), datetime(2026, 1, 5, 16, tzinfo=UTC))
    for bad in ("tomorrowish", "2026-13-01", "-3d", ""):
        with pytest.raises(Exception, match="not a time"):
            when_arg(bad)


def test_an_unexpected_error_is_one_line_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services import cli

    def boom(args: object) -> int:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(cli, "_db_upgrade", boom)
    monkeypatch.delenv("SKYLANE_DEBUG", raising=False)
    assert cli.main(["db", "upgrade", "router"]) == 1
    err = capsys.readouterr().err
    assert (
        err
        == "skylane: error: unexpected RuntimeError: disk on fire second line (SKYLANE_DEBUG=1 shows the traceback)\n"
    )
