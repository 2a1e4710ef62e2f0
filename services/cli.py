"""The `skylane` command: serve the services and run the ops tools.

This is the only module that reads the process environment; it hands plain settings to each
service's composition root.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import grpc
import structlog

from services.common.app import ServiceApp
from services.common.cli_client import (
    CliError,
    database_url,
    describe_rpc_error,
    one_line,
    poll_interval,
    port_number,
    seconds,
    share,
)
from services.common.config import ConfigError
from services.common.db import default_sqlite_url
from services.common.db_errors import DatabaseNotOpened, naming_database
from services.common.db_url import db_url_problem
from services.common.logging import configure_logging
from services.common.ports import GRPC_HINT, METRICS_HINT, PortInUse, check_free
from services.common.server import ServerOptions, check_security, serve_until_signalled
from services.common.settings import AppSettings
from services.common.tls import TlsError, TlsFiles
from services.common.tracing import TracingUnavailable, configure_tracing
from services.registry import SERVICES, nothing_live

Command = Callable[[argparse.Namespace], int]
log = structlog.get_logger("skylane.cli")


def settings_for(name: str, args: argparse.Namespace) -> AppSettings:
    return AppSettings(
        config_path=Path(args.config_dir) / f"{name}.yaml",
        db_url=_db_url_for(name, args),
        environ=dict(os.environ),
        sqlite_synchronous=os.environ.get("SKYLANE_SQLITE_SYNCHRONOUS", "FULL"),
    )


def _db_url_for(name: str, args: argparse.Namespace) -> str:
    """--db-url (checked as it is parsed), else SKYLANE_<SERVICE>_DB_URL (checked here the same way), else
    SQLite under --var-dir."""
    if getattr(args, "db_url", None):
        return str(args.db_url)
    variable = f"SKYLANE_{name.upper()}_DB_URL"
    url = os.environ.get(variable)
    if not url:
        return default_sqlite_url(name, args.var_dir)
    problem = db_url_problem(url)
    if problem:
        raise CliError(f"{variable}: {problem}")
    return url


def _serve(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    # The SQLite driver runs each statement on a helper thread; with CPython's default 5 ms switch
    # interval a busy event loop makes every hand-off wait for the GIL. A short interval keeps them cheap.
    sys.setswitchinterval(float(os.environ.get("SKYLANE_SWITCH_INTERVAL", "0.0005")))
    names = list(SERVICES) if args.service == "all" else [args.service]
    if args.service == "all" and (args.port is not None or args.metrics_port is not None or args.db_url):
        print(
            "--port, --metrics-port and --db-url apply to a single service; with 'all' use "
            "SKYLANE_<SERVICE>_PORT, SKYLANE_<SERVICE>_METRICS_PORT and SKYLANE_<SERVICE>_DB_URL",
            file=sys.stderr,
        )
        return 2
    try:
        settings = {name: settings_for(name, args) for name in names}  # every database URL checked, none opened
        shared = ServerOptions(
            host=args.host,
            grace_seconds=args.grace,
            config_poll_seconds=args.config_poll or None,
            access_log=not args.no_access_log,
            access_log_sample=args.access_log_sample,
            slow_call_ms=args.slow_call_ms,
            tls=_server_tls(args),
            ops_clients=frozenset(args.ops_client or ()),
            reuse_port=args.reuse_port,
        )
        check_security(shared)  # before anything is built: a bad file or combination stops here
        configure_tracing(args.otlp_endpoint)  # before the servers register their methods; None: stays off
    except (TlsError, TracingUnavailable, CliError) as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    apps = []
    for name in names:
        try:
            app = SERVICES[name].build(settings[name])
            port, metrics_port = _ports_for(name, args)
            options = dataclasses.replace(shared, port=port, metrics_port=metrics_port)
            _check_ports(options)  # before any database is touched: a taken port stops here, in one line
        except (ConfigError, CliError, PortInUse) as exc:
            print(f"cannot start {name}: {one_line(str(exc))}", file=sys.stderr)
            return 2
        _warn_when_nothing_live(app)
        apps.append((app, options))
    companions = []
    if args.with_partner_sim:
        try:
            companions.append(_partner_sim_companion(Path(args.partner_sim_scenario)))
        except (ConfigError, PortInUse) as exc:
            print(f"cannot start partner-sim: {one_line(str(exc))}", file=sys.stderr)
            return 2
    with asyncio.Runner(loop_factory=_loop_factory(args.event_loop)) as runner:
        return runner.run(serve_until_signalled(apps, companions))


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when asked for (docs/benchmarks.md measures both); None: asyncio's own."""
    if name != "uvloop":
        return None
    import uvloop

    return uvloop.new_event_loop


def _ports_for(name: str, args: argparse.Namespace) -> tuple[int, int | None]:
    """gRPC and metrics ports: the flag, else SKYLANE_<SERVICE>_PORT / _METRICS_PORT (how 'all' is moved
    off the default ports, e.g. beside a running demo), else the registry's defaults."""
    entry = SERVICES[name]
    port = args.port if args.port is not None else _env_port(f"SKYLANE_{name.upper()}_PORT")
    metrics = args.metrics_port if args.metrics_port is not None else _env_port(f"SKYLANE_{name.upper()}_METRICS_PORT")
    if args.no_metrics:
        metrics = None
    elif metrics is None:
        metrics = entry.default_metrics_port
    return (entry.default_port if port is None else port), metrics


def _env_port(variable: str) -> int | None:
    raw = os.environ.get(variable, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > 65535:
        raise CliError(f"{variable}={raw!r} is not a port number (0-65535)")
    return int(raw)


def _check_ports(options: ServerOptions) -> None:
    """Refuses a taken port up front (grpc would share it or log a C-core error; http.server would raise)."""
    if not options.reuse_port:
        check_free(options.host, options.port, "gRPC", GRPC_HINT)
    if options.metrics_port is not None:
        check_free(options.host, options.metrics_port, "metrics", METRICS_HINT)


def _warn_when_nothing_live(app: ServiceApp) -> None:
    """A structlog warning at start and after each reload when the config leaves nothing to serve (say every
    campaign has ended): the service runs, but each call answers 'nothing here', which is easy to miss."""

    def check(*_: object) -> None:
        reasons = nothing_live(app)
        if reasons:
            log.warning("nothing_live", service=app.name, what=reasons, config_version=app.config.current.version)

    check()
    app.config.subscribe(check)


def _server_tls(args: argparse.Namespace) -> TlsFiles | None:
    """TlsFiles from --tls-* (or SKYLANE_TLS_*); None when no TLS is asked for."""
    cert, key, client_ca = args.tls_cert, args.tls_key, args.tls_client_ca
    if not (cert or key or client_ca):
        return None
    if client_ca and not cert:
        raise TlsError("--tls-client-ca needs --tls-cert and --tls-key (the server's own certificate)")
    return TlsFiles.of(cert, key, client_ca)


def _partner_sim_companion(scenario_path: Path) -> Callable[[], Any]:
    """Demo only: the reference partner lenders in this process, so pool leads have somewhere to go.

    The scenario is read and its ports checked now, so a bad file or a taken port stops start-up in one line."""
    from services.router.partners.cli import check_sim_ports
    from services.router.sim.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    check_sim_ports(scenario.partners, "127.0.0.1")

    async def start() -> Callable[[], Any]:
        from services.router.sim.partner_sim import start_sim, stop_sims

        running = [await start_sim(spec, seed=scenario.seed, router=scenario.router) for spec in scenario.partners]

        async def stop() -> None:
            await stop_sims(running)

        return stop

    return start


def _add_common_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config-dir", default="config", help="directory holding <service>.yaml config files (default: ./config)"
    )
    parser.add_argument(
        "--var-dir",
        default="var",
        help="directory for the default SQLite databases <service>.db (default: ./var); "
        "SKYLANE_<SERVICE>_DB_URL overrides, e.g. postgresql+asyncpg://user@host/db",
    )


def build_parser() -> argparse.ArgumentParser:
    # Typed as the base class: the service modules register on _SubParsersAction[ArgumentParser].
    parser: argparse.ArgumentParser = OneLineParser(
        prog="skylane", description="Skylane: router, growth and rewards gRPC services for a consumer-finance bank."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run one service or all of them until SIGTERM/SIGINT",
        description="Run gRPC services with health checking, reflection, the Admin service and a metrics endpoint. "
        "SIGHUP reloads config; SIGTERM drains in-flight calls and exits 0.",
    )
    serve.add_argument(
        "service", choices=[*SERVICES, "all"], help="which service to run ('all': each on its default port)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    serve.add_argument(
        "--port",
        type=port_number,
        default=None,
        help="gRPC port for a single service (defaults: router 50051, growth 50052, rewards 50053; "
        "env SKYLANE_<SERVICE>_PORT, also with 'all')",
    )
    serve.add_argument(
        "--metrics-port",
        type=port_number,
        default=None,
        help="Prometheus port for a single service, 0 for any free port (defaults: 9151, 9152, 9153; "
        "env SKYLANE_<SERVICE>_METRICS_PORT, also with 'all')",
    )
    serve.add_argument("--no-metrics", action="store_true", help="do not open a Prometheus endpoint")
    serve.add_argument(
        "--reuse-port",
        action="store_true",
        default=os.environ.get("SKYLANE_REUSE_PORT", "").strip().lower() in ("1", "true", "yes", "on"),
        help="share the gRPC port with other processes started with --reuse-port (replicas behind one port, "
        "SO_REUSEPORT; env SKYLANE_REUSE_PORT=1). Default: a port already in use stops start-up",
    )
    serve.add_argument(
        "--db-url",
        type=database_url,
        default=None,
        help="database URL for a single service: sqlite+aiosqlite:///PATH or "
        "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB (overrides the SQLite default)",
    )
    serve.add_argument(
        "--grace", type=seconds, default=10.0, help="seconds in-flight calls get to finish on shutdown (default: 10)"
    )
    serve.add_argument(
        "--config-poll",
        type=poll_interval,
        default=2.0,
        help="seconds between config file checks; 0 = reload only on SIGHUP (default: 2)",
    )
    serve.add_argument(
        "--no-access-log", action="store_true", help="log only refused, failed and slow calls, no successful ones"
    )
    serve.add_argument(
        "--access-log-sample",
        type=share,
        default=os.environ.get("SKYLANE_ACCESS_LOG_SAMPLE", "0.01"),  # a string default goes through `type`
        help="share of successful calls given an access-log line; refused, failed and slow calls always are "
        "(env SKYLANE_ACCESS_LOG_SAMPLE; default: 0.01)",
    )
    serve.add_argument(
        "--event-loop",
        choices=("asyncio", "uvloop"),
        default=os.environ.get("SKYLANE_EVENT_LOOP", "asyncio"),
        help="event loop implementation (env SKYLANE_EVENT_LOOP; default: asyncio)",
    )
    serve.add_argument(
        "--slow-call-ms",
        type=seconds,
        default=250.0,
        help="a successful call at least this slow is always logged (default: 250)",
    )
    serve.add_argument(
        "--tls-cert",
        default=os.environ.get("SKYLANE_TLS_CERT") or None,
        help="PEM certificate chain: serve gRPC over TLS (env SKYLANE_TLS_CERT; default: plaintext)",
    )
    serve.add_argument(
        "--tls-key", default=os.environ.get("SKYLANE_TLS_KEY") or None, help="PEM private key of --tls-cert"
    )
    serve.add_argument(
        "--tls-client-ca",
        default=os.environ.get("SKYLANE_TLS_CLIENT_CA") or None,
        help="PEM CA bundle: require client certificates signed by it (mutual TLS; env SKYLANE_TLS_CLIENT_CA)",
    )
    serve.add_argument(
        "--ops-client",
        action="append",
        default=[name for name in os.environ.get("SKYLANE_OPS_CLIENTS", "").split(",") if name] or None,
        metavar="CN",
        help="certificate common name allowed to call ops methods (repeatable; env SKYLANE_OPS_CLIENTS, "
        "comma-separated); needs --tls-client-ca. Default: ops methods open to whoever reaches the port",
    )
    serve.add_argument(
        "--otlp-endpoint",
        default=os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
        metavar="URL",
        help="export OpenTelemetry spans (one per RPC and per partner call) over OTLP/gRPC to this collector, "
        "e.g. http://otel-collector:4317 (env OTEL_EXPORTER_OTLP_ENDPOINT; needs pip install 'skylane[tracing]'). "
        "Default: tracing off",
    )
    serve.add_argument(
        "--with-partner-sim",
        action="store_true",
        help="demo only: also run the reference partner lenders of --partner-sim-scenario in this process",
    )
    serve.add_argument(
        "--partner-sim-scenario",
        default="config/scenarios/partners.yaml",
        help="scenario file for --with-partner-sim (default: config/scenarios/partners.yaml)",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help="log level (default: info)"
    )
    serve.add_argument(
        "--json", action="store_true", help="log lines are JSON either way (one object a line on stdout)"
    )
    _add_common_paths(serve)
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="database schema operations")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser(
        "upgrade", help="create or upgrade a service's database schema to the latest revision"
    )
    upgrade.add_argument("service", choices=[*SERVICES, "all"], help="which service's database")
    upgrade.add_argument(
        "--db-url", type=database_url, default=None, help="database URL (default: SQLite under --var-dir)"
    )
    upgrade.add_argument("--json", action="store_true", help='one JSON line per service: {"service", "dialect"}')
    _add_common_paths(upgrade)
    upgrade.set_defaults(handler=_db_upgrade)

    for register in _service_commands():
        register(commands)
    return parser


def _db_upgrade(args: argparse.Namespace) -> int:
    from services.common.db import Database
    from services.common.migrations import upgrade

    if args.service == "all" and args.db_url:
        # Each service owns its database (two of them would share the idempotency and events tables).
        raise CliError("--db-url applies to a single service; with 'all' use SKYLANE_<SERVICE>_DB_URL")
    names = list(SERVICES) if args.service == "all" else [args.service]
    urls = {name: settings_for(name, args).db_url for name in names}  # all checked before any is changed

    async def run() -> None:
        for name, url in urls.items():
            db = Database(url)
            try:
                with naming_database(name, url):
                    await upgrade(db, Path(__file__).parent / name / "migrations")
            finally:
                await db.dispose()
            if args.json:
                print(json.dumps({"service": name, "schema": "head", "dialect": db.dialect}))
            else:
                print(f"{name}: schema at head ({db.dialect})")

    asyncio.run(run())
    return 0


def _service_commands() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """Service-specific subcommands (what-if, simulators, partner-sim) registered by each service."""
    registrars = []
    for module in ("services.router.cli", "services.rewards.cli", "services.growth.cli", "services.demo.cli"):
        try:
            imported = __import__(module, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        registrars.append(imported.register)
    return registrars


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments end in one line on stderr and exit 2, rather than the usage block and the error.
    Subcommand parsers are made of the same class (argparse uses the parent's type)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    """Runs one command; whatever goes wrong ends in one line on stderr and a non-zero exit, never a
    traceback (SKYLANE_DEBUG=1 lets unexpected errors through with theirs)."""
    try:
        args = build_parser().parse_args(argv)
        handler: Command = args.handler
        code = handler(args)
        sys.stdout.flush()  # buffered output meets a closed pipe here, where it is still handled
        return code
    except (Exception, KeyboardInterrupt) as exc:
        if os.environ.get("SKYLANE_DEBUG") and not isinstance(exc, BrokenPipeError | KeyboardInterrupt):
            raise
        code, message = _failure(exc)
        print(f"skylane: {message}", file=sys.stderr)
        return code


def _failure(exc: BaseException) -> tuple[int, str]:
    """Exit code and one-line message for an exception that reached the top."""
    if isinstance(exc, BrokenPipeError):
        # `skylane ... | head -1`: the reader left. Point stdout at /dev/null so the interpreter's own
        # flush at exit does not fail a second time with a traceback of its own.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141, "output closed early (broken pipe); the rest was not written"
    if isinstance(exc, KeyboardInterrupt):
        return 130, "interrupted"
    if isinstance(exc, PortInUse):
        return 2, f"cannot start: {exc}"
    if isinstance(exc, ConfigError | CliError | TlsError):
        return 2, f"error: {one_line(str(exc))}"
    if isinstance(exc, DatabaseNotOpened):
        return 1, f"error: {one_line(str(exc))}"
    if isinstance(exc, grpc.RpcError):
        return 1, f"error: {describe_rpc_error(exc)}"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return 1, f"error: {where}{one_line(exc.strerror or str(exc))}"
    return 1, f"error: unexpected {type(exc).__name__}: {one_line(str(exc))} (SKYLANE_DEBUG=1 shows the traceback)"


if __name__ == "__main__":
    sys.exit(main())
