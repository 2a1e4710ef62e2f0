"""The `skylane` command: serve the services and run the ops tools.

This is the only module that reads the process environment; it hands plain settings to each
service's composition root.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.common.config import ConfigError
from services.common.db import default_sqlite_url
from services.common.logging import configure_logging
from services.common.server import ServerOptions, check_security, serve_until_signalled
from services.common.settings import AppSettings
from services.common.tls import TlsError, TlsFiles
from services.registry import SERVICES

Command = Callable[[argparse.Namespace], int]


def settings_for(name: str, args: argparse.Namespace) -> AppSettings:
    db_url = os.environ.get(f"SKYLANE_{name.upper()}_DB_URL") or default_sqlite_url(name, args.var_dir)
    if getattr(args, "db_url", None):
        db_url = args.db_url
    return AppSettings(
        config_path=Path(args.config_dir) / f"{name}.yaml",
        db_url=db_url,
        environ=dict(os.environ),
        sqlite_synchronous=os.environ.get("SKYLANE_SQLITE_SYNCHRONOUS", "FULL"),
    )


def _serve(args: argparse.Namespace) -> int:
    configure_logging(args.log_level)
    # The SQLite driver runs each statement on a helper thread; with CPython's default 5 ms switch
    # interval a busy event loop makes every hand-off wait for the GIL. A short interval keeps them cheap.
    sys.setswitchinterval(float(os.environ.get("SKYLANE_SWITCH_INTERVAL", "0.0005")))
    names = list(SERVICES) if args.service == "all" else [args.service]
    if args.service == "all" and (args.port is not None or args.metrics_port is not None or args.db_url):
        print(
            "--port, --metrics-port and --db-url apply to a single service; use SKYLANE_<SERVICE>_DB_URL with 'all'",
            file=sys.stderr,
        )
        return 2
    try:
        shared = ServerOptions(
            host=args.host,
            grace_seconds=args.grace,
            config_poll_seconds=args.config_poll or None,
            access_log=not args.no_access_log,
            tls=_server_tls(args),
            ops_clients=frozenset(args.ops_client or ()),
        )
        check_security(shared)  # before anything is built: a bad file or combination stops here
    except TlsError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    apps = []
    for name in names:
        entry = SERVICES[name]
        try:
            app = entry.build(settings_for(name, args))
        except ConfigError as exc:
            print(f"cannot start {name}: {exc}", file=sys.stderr)
            return 2
        options = dataclasses.replace(
            shared,
            port=args.port if args.port is not None else entry.default_port,
            metrics_port=None
            if args.no_metrics
            else (entry.default_metrics_port if args.metrics_port is None else args.metrics_port),
        )
        apps.append((app, options))
    companions = [_partner_sim_companion(Path(args.partner_sim_scenario))] if args.with_partner_sim else []
    return asyncio.run(serve_until_signalled(apps, companions))


def _server_tls(args: argparse.Namespace) -> TlsFiles | None:
    """TlsFiles from --tls-* (or SKYLANE_TLS_*); None when no TLS is asked for."""
    cert, key, client_ca = args.tls_cert, args.tls_key, args.tls_client_ca
    if not (cert or key or client_ca):
        return None
    if client_ca and not cert:
        raise TlsError("--tls-client-ca needs --tls-cert and --tls-key (the server's own certificate)")
    return TlsFiles.of(cert, key, client_ca)


def _partner_sim_companion(scenario_path: Path) -> Callable[[], Any]:
    """Demo only: the reference partner lenders in this process, so pool leads have somewhere to go."""

    async def start() -> Callable[[], Any]:
        from services.router.partners.scenario import load_scenario
        from services.router.partners.sim import start_sim, stop_sims

        scenario = load_scenario(scenario_path)
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
    parser = argparse.ArgumentParser(
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
        type=int,
        default=None,
        help="gRPC port for a single service (defaults: router 50051, growth 50052, rewards 50053)",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="Prometheus port for a single service, 0 for any free port (defaults: 9151, 9152, 9153)",
    )
    serve.add_argument("--no-metrics", action="store_true", help="do not open a Prometheus endpoint")
    serve.add_argument(
        "--db-url", default=None, help="database URL for a single service (overrides the SQLite default)"
    )
    serve.add_argument(
        "--grace", type=float, default=10.0, help="seconds in-flight calls get to finish on shutdown (default: 10)"
    )
    serve.add_argument(
        "--config-poll",
        type=float,
        default=2.0,
        help="seconds between config file checks; 0 = reload only on SIGHUP (default: 2)",
    )
    serve.add_argument("--no-access-log", action="store_true", help="do not log one line per call")
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
    _add_common_paths(serve)
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="database schema operations")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser(
        "upgrade", help="create or upgrade a service's database schema to the latest revision"
    )
    upgrade.add_argument("service", choices=[*SERVICES, "all"], help="which service's database")
    upgrade.add_argument("--db-url", default=None, help="database URL (default: SQLite under --var-dir)")
    _add_common_paths(upgrade)
    upgrade.set_defaults(handler=_db_upgrade)

    for register in _service_commands():
        register(commands)
    return parser


def _db_upgrade(args: argparse.Namespace) -> int:
    from services.common.db import Database
    from services.common.migrations import upgrade

    async def run() -> None:
        for name in list(SERVICES) if args.service == "all" else [args.service]:
            settings = settings_for(name, args)
            db = Database(settings.db_url)
            try:
                await upgrade(db, Path(__file__).parent / name / "migrations")
            finally:
                await db.dispose()
            print(f"{name}: schema at head ({db.dialect})")

    asyncio.run(run())
    return 0


def _service_commands() -> list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]]:
    """Service-specific subcommands (what-if, simulators, partner-sim) registered by each service."""
    registrars = []
    for module in ("services.router.cli", "services.rewards.cli", "services.growth.cli"):
        try:
            imported = __import__(module, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        registrars.append(imported.register)
    return registrars


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
