"""Inputs the CLI used to take or answer badly: each is refused in one line that names the option and why,
before anything is opened, bound or written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from services.cli import build_parser, main
from services.demo.cli import var_dir_problem
from tests.helpers import POSTGRES_URL, REPO

FORMS = "use sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DB"


def _exit_code(argv: list[str]) -> int:
    """main's exit code, argparse's refusals (SystemExit) included."""
    try:
        return main(argv)
    except SystemExit as stopped:
        return int(stopped.code or 0)


def _skylane(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own (serve and partner-sim run their own event loop and gRPC servers);
    a refusal that failed would still end within the timeout."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SKYLANE_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("nonsense", f"not a database URL SQLAlchemy knows ('nonsense'); {FORMS}"),
        ("", f"not a database URL SQLAlchemy knows (''); {FORMS}"),
        ("postgresql+asyncpg://", f"no host and no database name in 'postgresql+asyncpg://'; {FORMS}"),
        ("postgresql+asyncpg://u@db.internal:5432", "no database name in 'postgresql+asyncpg://u@db.internal:5432'"),
        ("mysql://x", f"unsupported database 'mysql' (supported: sqlite, postgresql); {FORMS}"),
        ("postgresql://u@h/db", "postgresql needs the asyncpg driver: write postgresql+asyncpg://..."),
        ("sqlite:///x.db", "sqlite needs the aiosqlite driver: write sqlite+aiosqlite://..."),
        ("sqlite+aiosqlite:///:memory:", "SQLite needs a database file, not an in-memory database"),
        ("sqlite+aiosqlite:///no/such/dir/x.db", "directory 'no/such/dir' of the SQLite file does not exist"),
    ],
)
def test_db_upgrade_refuses_a_database_url_it_cannot_use(
    url: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)  # a relative SQLite path would land here
    assert _exit_code(["db", "upgrade", "router", "--db-url", url, "--var-dir", "var"]) == 2
    err = capsys.readouterr().err
    assert f"argument --db-url: {said}" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no database, directory or lock file made


def test_serve_refuses_the_same_urls_as_it_parses_its_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["serve", "router", "--port", "0", "--db-url", "mysql://x"])
    assert stopped.value.code == 2
    assert "argument --db-url: unsupported database 'mysql'" in capsys.readouterr().err


def test_a_password_in_a_refused_url_is_masked(capsys: pytest.CaptureFixture[str]) -> None:
    for url in ("postgresql://bob:hunter2@db.internal/router", "postgresql+asyncpg://bob:hun@ter2@db.internal/r"):
        assert _exit_code(["db", "upgrade", "router", "--db-url", url]) == 2
        err = capsys.readouterr().err
        assert "hunter2" not in err and "ter2" not in err and "bob:***@" in err


def test_urls_the_services_can_open_are_accepted(tmp_path: Path) -> None:
    for url in (
        f"sqlite+aiosqlite:///{tmp_path}/router.db",
        "postgresql+asyncpg://skylane:secret@db.internal:5432/router",
        "postgresql+asyncpg://skylane@/router?host=/var/run/postgresql",
    ):
        assert build_parser().parse_args(["db", "upgrade", "router", "--db-url", url]).db_url == url


def test_a_database_url_from_the_environment_is_checked_before_any_database_is_touched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    # Rewards is migrated last: router's and growth's databases must not be made before its URL is refused.
    monkeypatch.setenv("SKYLANE_REWARDS_DB_URL", "mysql://u:hunter2@db.internal/rewards")
    var = tmp_path / "var"
    assert _exit_code(["db", "upgrade", "all", "--var-dir", str(var)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("skylane: error: SKYLANE_REWARDS_DB_URL: unsupported database 'mysql' (supported: sqlite")
    assert "hunter2" not in err and not var.exists()


def test_serve_all_refuses_a_bad_url_from_the_environment_before_building_any_service(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYLANE_")}
    # Off the default ports, should the refusal ever fail and the servers start.
    env |= {f"SKYLANE_{name}_PORT": "0" for name in ("ROUTER", "GROWTH", "REWARDS")}
    env["SKYLANE_GROWTH_DB_URL"] = "postgresql+asyncpg://"
    var = tmp_path / "var"
    done = _skylane("serve", "all", "--no-metrics", "--var-dir", str(var), env=env)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"cannot start: SKYLANE_GROWTH_DB_URL: no host and no database name in 'postgresql+asyncpg://'; {FORMS}"
    )
    assert not var.exists()


def test_partner_sim_refuses_only_a_partner_the_scenario_does_not_have(tmp_path: Path) -> None:
    document = yaml.safe_load((REPO / "config" / "scenarios" / "partners.yaml").read_text(encoding="utf-8"))
    for partner in document["partners"]:
        partner["port"] = 0  # never the default ports, should the refusal ever fail and the partners start
    scenario = tmp_path / "partners.yaml"
    scenario.write_text(yaml.safe_dump(document), encoding="utf-8")
    only = ["--only", "quickcash", "--only", "quickcsh", "--only", "nobody"]
    done = _skylane("partner-sim", "--scenario", str(scenario), *only)  # it used to idle until stopped
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == (
        f"partner-sim: --only names no partner of {scenario}: 'quickcsh', 'nobody' "
        "(its partners: quickcash, steadybank, newlender, fastloan)"
    )


@pytest.mark.parametrize(
    ("files", "said"),
    [
        (["notes.txt"], "is not empty (it holds notes.txt)"),
        (["config", "demo.log", "a", "b", "c", "d"], "is not empty (it holds a, b, c, config, d and 1 more)"),
        # A previous demo's directory (or `serve`'s var/): its databases would be mixed into the new day.
        (["router.db", "rewards.db", "demo.log"], "already holds service databases (router.db, rewards.db)"),
    ],
)
def test_demo_refuses_a_var_dir_that_is_not_empty_and_leaves_it_as_it_was(
    files: list[str], said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for name in files:
        (folder / name).write_text(f"the user's {name}\n", encoding="utf-8")
    before = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}
    assert _exit_code(["demo", "--var-dir", str(folder), "--fast", "--no-html", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == f"skylane: error: --var-dir {folder} {said}: give the demo an empty or new directory\n"
    assert {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()} == before


def test_demo_refuses_a_var_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "var"
    path.write_text("mine\n", encoding="utf-8")
    assert _exit_code(["demo", "--var-dir", str(path), "--fast", "--no-html", "--no-progress"]) == 2
    assert "is a file, not a directory: give the demo an empty or new directory" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == "mine\n"


def test_demo_takes_an_empty_or_new_var_dir(tmp_path: Path) -> None:
    assert var_dir_problem(tmp_path) == ""
    assert var_dir_problem(tmp_path / "new" / "dir") == ""


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_database_that_cannot_be_opened_is_named_with_its_password_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    unreachable = f"postgresql+asyncpg://bank:s3cret@127.0.0.1:{_closed_port()}/router"
    assert _exit_code(["db", "upgrade", "router", "--db-url", unreachable, "--var-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("skylane: error: router: cannot open its database postgresql+asyncpg://bank:***@127.0.0.1:")
    assert "Connect call failed" in err and "s3cret" not in err and len(err.splitlines()) == 1


@pytest.mark.skipif(not POSTGRES_URL, reason="needs SKYLANE_TEST_POSTGRES_URL")
def test_an_unknown_database_on_a_reachable_server_is_named(tmp_path: Path) -> None:
    from sqlalchemy.engine import make_url

    missing = make_url(POSTGRES_URL).set(database="skylane_no_such_database")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYLANE_")}
    url = missing.render_as_string(hide_password=False)
    serve = ["serve", "router", "--port", "0", "--metrics-port", "0", "--db-url", url, "--var-dir", str(tmp_path)]
    done = _skylane(*serve, env=env)
    assert done.returncode == 1
    said = f'cannot open its database {missing.render_as_string()}: database "skylane_no_such_database" does not exist'
    assert done.stderr.strip().splitlines()[-1] == f"skylane: error: router: {said}"


def test_db_upgrade_all_refuses_one_url_for_every_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _clean_env(monkeypatch)
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    assert _exit_code(["db", "upgrade", "all", "--db-url", url, "--var-dir", str(tmp_path / "var")]) == 2
    assert "--db-url applies to a single service" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing migrated
