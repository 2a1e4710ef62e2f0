"""Private, throw-away PostgreSQL clusters for fault tests (initdb + pg_ctl into a temporary directory).

A fault test must be free to crash and restart its server, which the shared CI database cannot allow,
so it starts its own cluster from the installed binaries on a free port picked at run time (never 5432
nor the services' well-known ports). PostgreSQL refuses to run as root, so when the tests run as root
(CI does) every binary runs as the `postgres` user through runuser.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.harness import free_port

RUN_AS = "postgres"


def pg_bindir() -> Path | None:
    """Directory holding initdb and pg_ctl: `pg_config --bindir`, else Debian's versioned layout."""
    candidates: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(result.stdout.strip())
    # Debian/Ubuntu keep the server binaries off PATH; newest major version first.
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and all((Path(candidate) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(candidate)
    return None


def _postgres_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(RUN_AS)
    except KeyError as exc:  # fail loudly: silently skipping would hide the fault test in CI
        raise RuntimeError(f"running as root but there is no {RUN_AS!r} user to run PostgreSQL as") from exc


def _as_postgres() -> list[str]:
    if os.geteuid() != 0:
        return []
    _postgres_user()
    return ["runuser", "-u", RUN_AS, "--"]


class PgCluster:
    """One cluster under `root` (data directory, socket directory and server log) on 127.0.0.1:port."""

    def __init__(self, bindir: Path, root: Path, port: int) -> None:
        self.bindir, self.root, self.port = bindir, root, port
        self.data, self.log = root / "data", root / "server.log"
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        command = [*_as_postgres(), str(self.bindir / tool), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}\n"
                f"{self.log_tail()}"
            )

    def init(self) -> None:
        # --no-sync: a throw-away cluster need not survive a power cut, only a server crash.
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        self.running = True

    def crash(self) -> None:
        """Immediate shutdown: every server process quits at once, as in a crash; recovery replays WAL."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self.running = False

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        self.running = False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


@contextmanager
def private_cluster(bindir: Path) -> Iterator[PgCluster]:
    """A started cluster on a fresh port; stopped and removed afterwards, whatever happened."""
    root = Path(tempfile.mkdtemp(prefix="skylane-pg-"))
    try:
        if os.geteuid() == 0:
            user = _postgres_user()
            os.chown(root, user.pw_uid, user.pw_gid)
        cluster = PgCluster(bindir, root, free_port())
        cluster.init()
        cluster.start()
        try:
            yield cluster
        finally:
            if cluster.running:
                cluster.crash()  # nothing to keep: the quickest way down
    finally:
        shutil.rmtree(root, ignore_errors=True)
