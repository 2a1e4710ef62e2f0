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
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from rich import box
from rich.console import Console
from rich.table import Table

from services.common.db_url import db_url_problem
from services.common.tls import TlsError, TlsFiles, channel_credentials
from skylane.common.v1 import admin_pb2, admin_pb2_grpc, types_pb2

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


MAX_COUNT = 2**31 - 1  # what a request's count fields hold


def _number(text: str, kind: type[int] | type[float], what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None


def _within(value: float, low: float, high: float, said: str) -> None:
    if not low <= value <= high:  # NaN fails too
        raise argparse.ArgumentTypeError(said)


def positive_int(text: str) -> int:
    value: int = _number(text, int, "a whole number")
    _within(
        value,
        1,
        MAX_COUNT,
        f"must be at least 1, got {value}" if value < 1 else f"must be at most {MAX_COUNT}, got {value}",
    )
    return value


def port_number(text: str) -> int:
    """A TCP port, 0 for any free one (the operating system would take 65536 as 0 and 99999 as 34463)."""
    value: int = _number(text, int, "a port number")
    _within(value, 0, 65535, f"a port is 0 to 65535, got {value}")
    return value


def seconds(text: str) -> float:
    """A finite, non-negative number of seconds (or milliseconds)."""
    value: float = _number(text, float, "a number")
    _within(value, 0.0, sys.float_info.max, f"must be a finite number at least 0, got {text}")  # inf, NaN fail
    return value


def poll_interval(text: str) -> float:
    """Seconds between config checks: 0 (on SIGHUP only) or at least 0.1 (a shorter one is a busy loop)."""
    value = seconds(text)
    if 0 < value < 0.1:
        raise argparse.ArgumentTypeError(f"must be 0 or at least 0.1, got {text}")
    return value


def database_url(text: str) -> str:
    """A database URL the services can open; otherwise refused with why (its password masked)."""
    problem = db_url_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def share(text: str) -> float:
    value: float = _number(text, float, "a number")
    _within(value, 0.0, 1.0, f"must be between 0 and 1, got {value}")
    return value


# --- Output for scripts and people -------------------------------------------------------------------------
#
# Every command takes --json: one JSON document on stdout with stable snake_case keys (docs/operations.md ›
# CLI lists them): money in integer fen under keys ending in `_fen`, times as RFC 3339 UTC strings, shares
# as fractions 0..1, and null where the text output prints "-" or "none". Text output is for people: tables
# fold long cells to the terminal's width, and when stdout is not a terminal (a pipe, a file) they are
# printed at their natural width, so nothing is ever cut to "…".

JSON_HELP = "print one JSON document with stable keys (docs/operations.md › CLI) instead of text"


def add_json_flag(parser: argparse.ArgumentParser, help_text: str = JSON_HELP) -> None:
    parser.add_argument("--json", action="store_true", help=help_text)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def rfc3339(value: datetime | Timestamp | None) -> str | None:
    """'2026-01-05T09:00:00Z'; None for a missing or unset (zero) timestamp."""
    if value is None:
        return None
    if isinstance(value, Timestamp):
        if not value.seconds and not value.nanos:
            return None
        value = value.ToDatetime(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def or_none(text: str) -> str | None:
    """An empty proto string as JSON null."""
    return text or None


def make_console() -> PipeSafeConsole:
    """A console for text output: soft-wrapped lines and natural-width tables when stdout is not a terminal."""
    console = PipeSafeConsole(highlight=False)
    if not console.is_terminal:
        console.soft_wrap = True
    return console


def new_table(*columns: str, title: str | None = None, left: int = 1) -> Table:
    """A table whose first `left` columns are left-aligned and the rest right-aligned (figures); long cells
    fold onto more lines rather than being cut."""
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False)
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i < left else "right", overflow="fold")
    return table


def print_table(console: Console, table: Table) -> None:
    """In a terminal: at its width (cells fold). Elsewhere: at the table's natural width, never cut."""
    if console.is_terminal:
        console.print(table)
        return
    natural = console.measure(table, options=console.options.update_width(100_000)).maximum
    width = console.width
    console.width = max(width, natural)
    try:
        console.print(table, soft_wrap=False)
    finally:
        console.width = width


def percent(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}%}"


def yuan(fen: float | None) -> str:
    return "-" if fen is None else f"¥{fen / 100:,.2f}"


# --- Admin commands every service has: config, reload, validate, probe -----------------------------------

Handler = Callable[[argparse.Namespace], int]


def admin_parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    help_text: str,
    service: str,
    address: str,
    json_help: str = JSON_HELP,
) -> argparse.ArgumentParser:
    """A subcommand with --address (default: the service's default port) and --json."""
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.add_argument("--address", default=address, help=f"{service} gRPC address (default {address})")
    add_json_flag(parser, json_help)
    return parser


def register_admin_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    service: str,
    address: str,
    *,
    validate: Handler | None = None,
) -> None:
    """Adds `config`, `reload`, `validate FILE` and `probe` (skylane.common.v1.Admin) and `stream` (the service's
    domain events, skylane.common.v1.EventsOpsService) under a service's command.
    `validate` may be replaced by a service's own (the router's also prints the policy version)."""
    p = admin_parser(
        sub, "config", f"the {service} config running now: config version, source, time zone", service, address
    )
    p.add_argument("--yaml", action="store_true", help="also print the effective YAML (secrets masked)")
    p.set_defaults(handler=_config_show)
    p = admin_parser(
        sub,
        "reload",
        f"re-read {service}.yaml now (an invalid file is refused; the running one stays)",
        service,
        address,
    )
    p.add_argument("--idempotency-key", default="", help="reuse a key to retry a reload safely (default: a fresh key)")
    p.set_defaults(handler=_config_reload)
    p = admin_parser(sub, "validate", f"check a {service}.yaml against the running service's schema", service, address)
    p.add_argument("file")
    p.set_defaults(handler=validate or _config_validate)
    p = admin_parser(sub, "probe", f"a round trip through the {service} server's full request path", service, address)
    p.add_argument("--hold-ms", type=int, default=0, help="keep the call open this long, 0-10000 (drain checks)")
    p.set_defaults(handler=_probe)
    what = f"the {service} domain event stream after a cursor, oldest first (EventsOpsService.StreamEvents)"
    p = admin_parser(sub, "stream", what, service, address, json_help="one JSON line per event, each with its cursor")
    p.add_argument("--cursor", default="", help="resume after this cursor (<service>:<position>; default: the oldest)")
    p.add_argument("--type", action="append", default=[], metavar="TYPE", help="only events of this type (repeatable)")
    p.add_argument("--follow", action="store_true", help="stay open once caught up and print new events as they come")
    p.add_argument("--limit", type=positive_int, default=None, help="stop after this many events")
    p.add_argument("--page-size", type=positive_int, default=100, help="events per page from the server (max 1000)")
    p.set_defaults(handler=_stream)


def _config_show(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        info = admin_pb2_grpc.AdminStub(channel).GetConfig(admin_pb2.GetConfigRequest(), timeout=ZONE_TIMEOUT_S)
        document = {
            "service": info.service,
            "config_version": info.version,
            "source": info.source,
            "loaded_at": info.loaded_at,
            "timezone": or_none(info.timezone),
            "warnings": list(info.warnings),
        }
        if args.yaml:
            document["effective_yaml"] = info.effective_yaml
        if args.json:
            print_json(document)
            return
        print(f"{info.service}: config version {info.version}")
        print(f"  source     {info.source}")
        print(f"  loaded at  {info.loaded_at}")
        print(f"  time zone  {info.timezone or 'UTC (not set)'}")
        for warning in info.warnings:
            print(f"  warning    {warning}")
        if args.yaml:
            print(info.effective_yaml, end="")

    return run_call(args.address, call)


def _config_reload(args: argparse.Namespace) -> int:
    import uuid

    def call(channel: grpc.Channel) -> None:
        key = types_pb2.IdempotencyKey(value=args.idempotency_key or uuid.uuid4().hex)
        done = admin_pb2_grpc.AdminStub(channel).ReloadConfig(
            admin_pb2.ReloadConfigRequest(idempotency_key=key), timeout=ZONE_TIMEOUT_S
        )
        if args.json:
            print_json(
                {
                    "changed": done.changed,
                    "previous_config_version": done.previous_version,
                    "config_version": done.version,
                    "idempotency_key": key.value,
                }
            )
        elif done.changed:
            print(f"reloaded: config version {done.previous_version} → {done.version}")
        else:
            print(f"unchanged: config version {done.version}")

    return run_call(args.address, call)


def validate_config(channel: grpc.Channel, path: str) -> admin_pb2.ValidateConfigResponse:
    text = Path(path).read_text(encoding="utf-8")  # an OSError ends in one line at the top
    return admin_pb2_grpc.AdminStub(channel).ValidateConfig(
        admin_pb2.ValidateConfigRequest(yaml=text), timeout=ZONE_TIMEOUT_S
    )


def report_validation(args: argparse.Namespace, reply: admin_pb2.ValidateConfigResponse, **versions: str) -> None:
    """Prints a ValidateConfig verdict (with any further labelled versions) and exits 1 when invalid."""
    if args.json:
        print_json(
            {
                "valid": reply.valid,
                "config_version": or_none(reply.version),
                **{f"{name}_version": or_none(value) for name, value in versions.items()},
                "errors": list(reply.errors),
            }
        )
    elif reply.valid:
        labelled = [f"config version {reply.version}", *(f"{n} version {v}" for n, v in versions.items() if v)]
        print("valid: " + ", ".join(labelled))
    else:
        print("invalid:\n  " + "\n  ".join(reply.errors))
    if not reply.valid:
        raise SystemExit(1)


def _config_validate(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        report_validation(args, validate_config(channel, args.file))

    return run_call(args.address, call)


def _probe(args: argparse.Namespace) -> int:
    import time as clock

    def call(channel: grpc.Channel) -> None:
        started = clock.perf_counter()
        reply = admin_pb2_grpc.AdminStub(channel).Probe(
            admin_pb2.ProbeRequest(hold_ms=args.hold_ms), timeout=ZONE_TIMEOUT_S + args.hold_ms / 1000
        )
        elapsed = (clock.perf_counter() - started) * 1000
        if args.json:
            print_json({"service": reply.service, "request_id": reply.request_id, "round_trip_ms": round(elapsed, 3)})
        else:
            print(f"{reply.service}: answered in {elapsed:.1f} ms (request id {reply.request_id})")

    return run_call(args.address, call)


def _stream(args: argparse.Namespace) -> int:
    """Events as they stream: a line each (JSON lines with --json); ends when caught up (or at --limit), and
    with --follow only on Ctrl-C. The last line of text output is the cursor to resume from."""
    from skylane.common.v1 import events_pb2, events_pb2_grpc

    def call(channel: grpc.Channel) -> None:
        zone = service_zone(channel) if not args.json else UTC
        request = events_pb2.StreamEventsRequest(
            cursor=args.cursor, page_size=args.page_size, follow=args.follow, types=args.type
        )
        stream = events_pb2_grpc.EventsOpsServiceStub(channel).StreamEvents(
            request, timeout=None if args.follow else 60.0
        )
        cursor, seen = args.cursor, 0
        for page in stream:
            for e in page.events:
                data = dict(sorted(e.data.items()))
                if args.json:
                    line = {"event_id": e.event_id, "service": e.service, "type": e.type, "customer": e.customer.ref}
                    print(json.dumps({**line, "occurred_at": rfc3339(e.occurred_at), "data": data, "cursor": e.cursor},
                                     ensure_ascii=False), flush=True)  # fmt: skip
                else:
                    fields = " ".join(f"{k}={v}" for k, v in data.items())
                    print(f"{e.event_id}  {show_time(e.occurred_at, zone)}  {e.type}  {e.customer.ref}  {fields}")
                cursor, seen = e.cursor or cursor, seen + 1
                if args.limit is not None and seen >= args.limit:
                    stream.cancel()
                    break
            else:
                cursor = page.cursor or cursor
                continue
            break
        if not args.json:
            print(f"{seen} events; resume with --cursor {cursor}" if cursor else f"{seen} events")

    return run_call(args.address, call)
