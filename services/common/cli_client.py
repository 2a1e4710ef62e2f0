"""How ops commands call a running service: one blocking call, errors printed as one line.

The channel is plaintext unless SKYLANE_TLS_CA names the CA the server's certificate chains to; with
SKYLANE_TLS_CLIENT_CERT and SKYLANE_TLS_CLIENT_KEY it also presents a client certificate (for servers
started with --tls-client-ca). Environment rather than flags: every ops command takes the same three.

Times on the command line and in the output are in the time zone of the service's own config (what it
counts days in), which the server reports through Admin.GetConfig; a time with an offset is taken as is.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from rich.console import Console

from services.common.tls import TlsError, TlsFiles, channel_credentials
from skylane.common.v1 import admin_pb2, admin_pb2_grpc

ZONE_TIMEOUT_S = 10.0


class CliError(Exception):
    """A usage problem found after parsing (e.g. --since after --until): one line, exit 2."""


class PipeSafeConsole(Console):
    """A rich Console whose closed pipe (`skylane ... | head -1`) reaches the CLI's one-line handler:
    rich's own handling exits 1 without a word."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, "broken pipe")


def client_tls(environ: Mapping[str, str]) -> TlsFiles | None:
    ca, cert, key = (environ.get(f"SKYLANE_TLS_{name}") for name in ("CA", "CLIENT_CERT", "CLIENT_KEY"))
    return TlsFiles.of(cert, key, ca) if ca or cert or key else None


def open_channel(address: str, tls: TlsFiles | None) -> grpc.Channel:
    if tls is None:
        return grpc.insecure_channel(address)
    return grpc.secure_channel(address, channel_credentials(tls))


def one_line(text: str) -> str:
    """Collapses whitespace, so a multi-line message from grpc or a file error stays one line."""
    return " ".join(text.split())


def describe_rpc_error(exc: grpc.RpcError, address: str = "") -> str:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    name = code.name if code is not None else "RPC_ERROR"
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    where = f" (server {address})" if address and code == grpc.StatusCode.UNAVAILABLE else ""
    return one_line(f"{name}: {details}{where}")


def run_call(address: str, call: Callable[[grpc.Channel], None]) -> int:
    """Runs call on a channel to address; prints a gRPC error as 'error: CODE: details' and returns 1."""
    try:
        channel = open_channel(address, client_tls(os.environ))
    except TlsError as exc:
        print(f"error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    with channel:
        try:
            call(channel)
        except grpc.RpcError as exc:
            print(f"error: {describe_rpc_error(exc, address)}", file=sys.stderr)
            return 1
    return 0


def service_zone(channel: grpc.Channel) -> tzinfo:
    """The time zone of the service's config. UTC when the server does not say (an older server) or does
    not let this client read its config (an ops allowlist); an unreachable server raises as any call."""
    try:
        info = admin_pb2_grpc.AdminStub(channel).GetConfig(admin_pb2.GetConfigRequest(), timeout=ZONE_TIMEOUT_S)
    except grpc.RpcError as exc:
        if isinstance(exc, grpc.Call) and exc.code() in (
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.UNIMPLEMENTED,
        ):
            return UTC
        raise
    try:
        return ZoneInfo(info.timezone) if info.timezone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC  # a zone this machine's tz database lacks: UTC, and the output says so


def zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone.tzname(None) or "UTC")


def show_time(value: datetime | Timestamp, zone: tzinfo) -> str:
    """'2026-01-05 17:00 Asia/Shanghai': minutes, in the service's zone, named."""
    if isinstance(value, Timestamp):
        value = value.ToDatetime(tzinfo=UTC)
    return f"{value.astimezone(zone):%Y-%m-%d %H:%M} {zone_name(zone)}"


_AGE = re.compile(r"^(\d+)\s*(m|min|h|d|w)$")
_AGE_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
TIME_FORMS = (
    "2026-11-25, 2026-11-25T08:00 or 2026-11-25 08:00 (the service's time zone), 2026-11-25T08:00+08:00, "
    "now, today, yesterday, or an age such as 90m, 36h or 7d"
)


@dataclass(frozen=True)
class When:
    """A time given on the command line, resolved once the service's time zone is known."""

    text: str

    def at(self, zone: tzinfo, now: datetime) -> datetime:
        word = self.text.strip().lower()
        if word == "now":
            return now
        if word in ("today", "yesterday"):
            day = now.astimezone(zone).date() - timedelta(days=1 if word == "yesterday" else 0)
            return datetime.combine(day, time(), tzinfo=zone)
        age = _AGE.match(word)
        if age:
            return now - timedelta(**{_AGE_UNITS[age[2]]: int(age[1])})
        value = datetime.fromisoformat(self.text.strip())  # ValueError: not a time
        return value if value.tzinfo else value.replace(tzinfo=zone)


def when_arg(text: str) -> When:
    """argparse type of --since/--until: refuses what is not a time while parsing, as a usage error."""
    when = When(text)
    try:
        when.at(UTC, datetime.now(UTC))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r}; use {TIME_FORMS}") from None
    return when


def window(
    since: When | None, until: When | None, zone: tzinfo, default: timedelta = timedelta(days=1)
) -> tuple[datetime, datetime]:
    """[since, until) in UTC: until defaults to now, since to `default` before until."""
    now = datetime.now(UTC)
    end = until.at(zone, now) if until else now
    start = since.at(zone, now) if since else end - default
    if start >= end:
        raise CliError(f"--since ({show_time(start, zone)}) must be before --until ({show_time(end, zone)})")
    return start.astimezone(UTC), end.astimezone(UTC)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value
