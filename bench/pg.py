"""PostgreSQL for the benchmark suite: a private, throw-away cluster (so its processes' CPU can be measured
and nobody else's queries share it) or a given server; one fresh database per measured server.

The private cluster runs PostgreSQL's durable defaults (fsync, synchronous_commit on, full_page_writes)
from the installed binaries on a free port, under a temporary directory, as the `postgres` user when the
suite runs as root (PostgreSQL refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.harness import children_of, free_port


def _bindir() -> Path:
    candidates = [shutil.which("initdb") and str(Path(str(shutil.which("initdb"))).parent)]
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        candidates.append(found.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and all((Path(candidate) / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return Path(candidate)
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; pass --pg-url instead")


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class Postgres:
    host: str
    port: int
    user: str
    postmaster: int | None  # pid of the private cluster's postmaster (None: a server we do not own)

    def dsn(self, database: str) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def sqlalchemy_url(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{database}"

    def backends(self) -> Callable[[], list[int]]:
        """Every process of the private cluster (backends, WAL writer, checkpointer...), for its CPU."""
        postmaster = self.postmaster
        if postmaster is None:
            return lambda: []
        return lambda: [postmaster, *children_of(postmaster)]

    def _psql(self, sql: str) -> None:
        command = ["psql", "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", "postgres"]
        subprocess.run([*command, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True, text=True)

    @contextlib.contextmanager
    def database(self, prefix: str) -> Iterator[str]:
        """A fresh database for one measured server; dropped afterwards."""
        name = f"bench_{prefix}_{uuid.uuid4().hex[:8]}"
        self._psql(f"CREATE DATABASE {name}")
        try:
            yield name
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def postgres(url: str | None) -> Iterator[Postgres]:
    """The server at url (postgresql://user@host:port), or a private cluster started here."""
    if url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        yield Postgres(parts.hostname or "127.0.0.1", parts.port or 5432, parts.username or "postgres", None)
        return
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    data = root / "data"
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(root, user.pw_uid, user.pw_gid)
        port = free_port()
        run = _as_postgres()
        subprocess.run(
            [
                *run,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c max_connections=200"
        start = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-o", options, "-w", "start"]
        subprocess.run([*run, *start], check=True, capture_output=True)
        try:
            postmaster = int((data / "postmaster.pid").read_text().splitlines()[0])
            yield Postgres("127.0.0.1", port, "postgres", postmaster)
        finally:
            subprocess.run(
                [*run, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
