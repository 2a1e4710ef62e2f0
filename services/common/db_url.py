"""What makes a database URL one the services can open, checked before anything connects.

A URL the services cannot use would otherwise fail late and obscurely: SQLAlchemy's parse error, a
missing driver module, a connection to whatever PostgreSQL a bare `postgresql+asyncpg://` reaches, or
a SQLite file created in a directory nobody meant. Messages show the URL with its password masked.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url

FORMS = "sqlite+aiosqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DB"
DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}  # database → the async driver the services use

# "scheme://user:password@": everything from the user's colon to the last '@' is masked, so a password
# holding an unencoded '@' or '/' never shows (a host:port with an '@' further on is masked too).
_PASSWORD = re.compile(r"(://[^:/@]*:).*@")


def masked(raw: str) -> str:
    """The URL as the user wrote it, its password (if any) replaced by ***."""
    return _PASSWORD.sub(r"\1***@", raw)


def db_url_problem(raw: str) -> str | None:
    """Why the services cannot use this database URL; None when they can."""
    try:
        url = make_url(raw)
    except Exception:  # ArgumentError, ValueError (a port that is no number), NoSuchModuleError
        return f"not a database URL SQLAlchemy knows ({masked(raw)!r}); use {FORMS}"
    backend = url.get_backend_name()
    if backend not in DRIVERS:
        return f"unsupported database {backend!r} (supported: {', '.join(DRIVERS)}); use {FORMS}"
    if url.get_driver_name() != DRIVERS[backend]:
        driver = DRIVERS[backend]
        return f"{backend} needs the {driver} driver: write {backend}+{driver}://..., not {masked(raw)!r}"
    return _sqlite_problem(url) if backend == "sqlite" else _postgresql_problem(url, raw)


def _sqlite_problem(url: URL) -> str | None:
    database = url.database or ""
    if not database or database == ":memory:":
        return f"SQLite needs a database file, not an in-memory database; use {FORMS}"
    path = Path(database)
    if path.is_dir():
        return f"{database!r} is a directory, not a SQLite database file"
    if not path.parent.is_dir():
        return f"directory {str(path.parent)!r} of the SQLite file does not exist (create it first)"
    return None


def _postgresql_problem(url: URL, raw: str) -> str | None:
    missing = [
        what
        for what, present in (("host", url.host or url.query.get("host")), ("database name", url.database))
        if not present
    ]
    if missing:
        return f"no {' and no '.join(missing)} in {masked(raw)!r}; use {FORMS}"
    if "@" in (url.host or ""):
        return f"the password holds an '@': write it as %40 ({masked(raw)!r})"
    return None
