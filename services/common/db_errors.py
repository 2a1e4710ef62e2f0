"""Telling "the database went away" apart from every other failure, so callers get UNAVAILABLE.

A lost or refused database connection says nothing about the request: the transaction rolled back
(or, if the connection died during COMMIT, may have committed), so the caller should retry with the
same idempotency key, which answers exactly once either way. gRPC's code for "try again later" is
UNAVAILABLE; INTERNAL would tell the caller the request itself broke something.

The errors arrive in many shapes: SQLAlchemy's DBAPIError wrapping the adapter's error wrapping the
driver's (asyncpg) error, a raw ConnectionRefusedError from a connect attempt (SQLAlchemy does not wrap
those), PostgreSQL refusing connections while it shuts down or recovers, or an error raised while
handling one of these. So the whole __cause__/__context__ chain is examined.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterator
from types import TracebackType

from sqlalchemy import exc as sa_exc

from services.common.db_url import masked

UNAVAILABLE_MESSAGE = "database unavailable; retry with the same idempotency key"

# 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up, shutting down,
# in recovery), 53300 too many connections. Class 08 is "connection exception" as a whole.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
_CONNECTION_CLASS = "08"
_PROTOCOL_VIOLATION = "08P01"  # in class 08, but a client or server bug, not an outage

# For errors that carry no SQLSTATE (other drivers, or text re-raised by an adapter).
_UNAVAILABLE_TEXT = (
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
    "terminating connection due to administrator command",
    "terminating connection because of crash of another server process",
    "connection was closed in the middle of operation",
    "server closed the connection unexpectedly",
    "connection is closed",
)

_CONNECT_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.ETIMEDOUT,
        errno.EPIPE,
        errno.EADDRNOTAVAIL,
    }
)

# Modules whose frames show that an OS-level error came from talking to the database.
_DRIVER_MODULES = ("asyncpg", "sqlalchemy", "aiosqlite", "sqlite3", "psycopg")
# Exceptions whose text is the driver's or server's own message. Not sqlalchemy.exc: its text quotes the
# statement's parameters, which may hold anything a caller sent.
_MESSAGE_MODULES = ("asyncpg", "aiosqlite", "sqlite3", "psycopg", "sqlalchemy.dialects")


def is_database_unavailable(exc: BaseException) -> bool:
    """True when exc, or any exception it was raised from or while handling, is a lost, refused or
    not-yet-accepting database connection. SQLite's "database is locked" is contention, not this."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if _is_unavailable_itself(current):
            return True
        # SQLAlchemy keeps the driver's error in .orig as well (also when it was not raised "from" it).
        linked = (current.__cause__, current.__context__, getattr(current, "orig", None))
        stack.extend(e for e in linked if isinstance(e, BaseException))
    return False


def _is_unavailable_itself(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):
        return all(is_database_unavailable(e) for e in exc.exceptions)
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True  # SQLAlchemy's own dialect-aware disconnect detection said so
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True  # a connection that could not be revived; a pool starved by hanging connects
    if _sqlstate_says_unavailable(getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)):
        return True
    if isinstance(exc, OSError):
        return _is_connect_failure(exc) and _raised_in_driver(exc.__traceback__)
    return _driver_text_says_unavailable(exc)


def _sqlstate_says_unavailable(sqlstate: object) -> bool:
    if not isinstance(sqlstate, str):
        return False
    if sqlstate in _UNAVAILABLE_SQLSTATES:
        return True
    return sqlstate.startswith(_CONNECTION_CLASS) and sqlstate != _PROTOCOL_VIOLATION


def _is_connect_failure(exc: OSError) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    if exc.errno in _CONNECT_ERRNOS:
        return True
    # asyncio's create_connection folds the failures of several addresses (localhost: ::1 and
    # 127.0.0.1) into one OSError without an errno.
    return exc.errno is None and "Connect call failed" in str(exc)


def _raised_in_driver(tb: TracebackType | None) -> bool:
    """Whether the traceback passes through database code: a refused connection to a partner or any
    other socket is not the database being unavailable."""
    while tb is not None:
        if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_DRIVER_MODULES):
            return True
        tb = tb.tb_next
    return False


def _driver_text_says_unavailable(exc: BaseException) -> bool:
    # Only driver exceptions: an application error quoting one of these phrases is not one.
    if not type(exc).__module__.startswith(_MESSAGE_MODULES):
        return False
    text = str(exc).lower()
    return any(phrase in text for phrase in _UNAVAILABLE_TEXT)


class DatabaseNotOpened(Exception):
    """A service could not open its database at start: one line naming the service and the database
    (its URL with the password masked) and the driver's or server's own reason."""


@contextlib.contextmanager
def naming_database(service: str, url: str) -> Iterator[None]:
    """Around opening a service's database (migrations at start-up, `db upgrade`): a database failure —
    unreachable, or refused by the server (an unknown database or role, a wrong password) — leaves as a
    DatabaseNotOpened naming the service and the database; anything else passes as it is."""
    try:
        yield
    except Exception as exc:
        if not (isinstance(exc, sa_exc.DBAPIError) or is_database_unavailable(exc)):
            raise
        raise DatabaseNotOpened(f"{service}: cannot open its database {masked(url)}: {_driver_reason(exc)}") from exc


def _driver_reason(exc: BaseException) -> str:
    """The innermost driver or OS error's own text: SQLAlchemy's wrapper quotes statements and links."""
    innermost: BaseException = exc
    seen: set[int] = set()
    while id(innermost) not in seen:
        seen.add(id(innermost))
        deeper = getattr(innermost, "orig", None) or innermost.__cause__
        if not isinstance(deeper, BaseException):
            break
        innermost = deeper
    text = " ".join(str(innermost).split())
    return text or type(innermost).__name__
