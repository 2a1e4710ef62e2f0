"""grpc.aio server bootstrap shared by every service.

Every server gets: the edge (services/common/edge.py), grpc.health.v1 health checking, server reflection, the
Admin service, a Prometheus endpoint, the config watcher and the service's workers. On SIGTERM or
SIGINT health turns NOT_SERVING, in-flight calls get a grace period to finish, then workers stop
and the database is disposed. SIGHUP reloads every service's config.

Every line logged on a service's behalf names it (`service`): start-up, shutdown, reloads and the tasks
started here (config watcher, idempotency purge, the service's workers) run in its logging context, and
the edge binds it per call, so the three services of `skylane serve all` can be told apart in one stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import grpc
import structlog
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common.admin import AdminServicer
from services.common.app import ServiceApp
from services.common.authz import OpsGuard
from services.common.config import ConfigError
from services.common.db_errors import naming_database
from services.common.edge import AccessLogPolicy, Edge, EdgeRegistrar
from services.common.event_services import add_event_services, upkeep
from services.common.logging import service_context
from services.common.ports import bind_grpc, port_options
from services.common.tls import TlsError, TlsFiles, server_credentials
from services.common.tracing import shutdown_tracing
from skylane.common.v1 import admin_pb2, admin_pb2_grpc

log = structlog.get_logger("skylane.server")


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    port: int = 0
    metrics_port: int | None = None  # None: no scrape endpoint; 0: any free port
    grace_seconds: float = 10.0
    config_poll_seconds: float | None = 2.0  # None: reload only on SIGHUP or the Admin RPC
    access_log: bool = True  # False: only refused, failed and slow calls are logged
    access_log_sample: float = 1.0  # share of successful calls logged (skylane serve: 0.01)
    slow_call_ms: float = 250.0  # a successful call at least this slow is always logged
    tls: TlsFiles | None = None  # None: plaintext (behind a mesh that terminates mTLS)
    ops_clients: frozenset[str] = frozenset()  # certificate CNs allowed to call ops methods; empty: open
    reuse_port: bool = False  # share the gRPC port with replicas on purpose (SO_REUSEPORT); else a taken port fails


@dataclass
class RunningService:
    app: ServiceApp
    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    metrics_port: int | None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def stop(self, grace: float) -> None:
        with service_context(self.app.name):
            await self.health.enter_graceful_shutdown()
            await self.server.stop(grace)
            for task in self.tasks:
                task.cancel()
            for task in self.tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.app.stop()
            self.app.metrics.shutdown()
            log.info("service_stopped")


def check_security(options: ServerOptions) -> grpc.ServerCredentials | None:
    """The server's TLS credentials (None: plaintext), read now, so a bad file stops start-up with its name
    and never falls back to plaintext; TlsError also when an ops allowlist has no client certificates to
    check."""
    if options.ops_clients and (options.tls is None or options.tls.ca is None):
        raise TlsError(
            "--ops-client needs mutual TLS (--tls-client-ca): an ops-client allowlist identifies callers by certificate"
        )
    return server_credentials(options.tls) if options.tls is not None else None


async def start_service(app: ServiceApp, options: ServerOptions) -> RunningService:
    credentials = check_security(options)  # before anything starts
    # Tasks created inside inherit the context: the watcher, the purge and every worker log as this service.
    with service_context(app.name):
        return await _start_service(app, options, credentials)


async def _start_service(
    app: ServiceApp, options: ServerOptions, credentials: grpc.ServerCredentials | None
) -> RunningService:
    with naming_database(app.name, app.db.url):
        await app.start()
    server = grpc.aio.server(
        options=[("grpc.max_receive_message_length", 8 * 1024 * 1024), *port_options(options.reuse_port)]
    )
    health_servicer = health.aio.HealthServicer()
    names = _register_behind_edge(app, server, options, health_servicer)
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
    )

    port = bind_grpc(server, options.host, options.port, credentials, reuse_port=options.reuse_port)
    # The scrape endpoint before the gRPC server starts: a taken metrics port leaves nothing serving.
    metrics_port = app.metrics.serve(options.host, options.metrics_port) if options.metrics_port is not None else None
    await server.start()

    running = RunningService(app, server, health_servicer, port, metrics_port)
    if options.config_poll_seconds:
        running.tasks.append(asyncio.create_task(app.config.watch(options.config_poll_seconds)))
    running.tasks.append(asyncio.create_task(_purge_idempotency_keys(app)))
    running.tasks.append(asyncio.create_task(upkeep(app)))  # events past their retention
    running.tasks.extend(asyncio.create_task(worker()) for worker in app.workers())
    log.info(
        "service_started",
        address=f"{options.host}:{port}",
        metrics_port=metrics_port,
        config_version=app.config.current.version,
        database=app.db.dialect,
        tls="off" if options.tls is None else ("mutual" if options.tls.ca else "server"),
    )
    return running


def _access_log_policy(options: ServerOptions) -> AccessLogPolicy:
    return AccessLogPolicy.sampled(options.access_log_sample if options.access_log else 0.0, options.slow_call_ms)


def _register_behind_edge(
    app: ServiceApp, server: grpc.aio.Server, options: ServerOptions, health_servicer: health.aio.HealthServicer
) -> list[str]:
    """Registers the service's servicers, Admin and health checking so that every method of theirs runs
    behind the edge (a health check that is not a HealthCheckRequest is INVALID_ARGUMENT, not UNKNOWN).
    Reflection, a bidirectional stream, is registered by grpc itself."""
    guard = OpsGuard(options.ops_clients, app.ops_methods()) if options.ops_clients else None
    registrar = EdgeRegistrar(
        server,
        Edge(
            app.metrics,
            app.calls,
            access_log=_access_log_policy(options),
            ops_guard=guard,
            caller_guards=app.caller_guards(),
        ),
    )
    names = app.add_to_server(registrar)  # stands in for the server while registering
    admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(app), registrar)
    names.extend(add_event_services(app, registrar))  # StreamEvents and IngestEvents (docs/events.md)
    names.append(admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, registrar)
    registrar.check_complete()
    return names


IDEMPOTENCY_RETENTION = timedelta(days=7)  # far longer than any client retries a call


async def _purge_idempotency_keys(app: ServiceApp, every_seconds: float = 3600.0) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            async with app.db.transaction() as session:
                purged = await app.idempotency.purge(session, IDEMPOTENCY_RETENTION)
            log.info("idempotency_keys_purged", purged=purged)
        except Exception:
            log.exception("idempotency_purge_failed")


Stopper = Callable[[], Awaitable[None]]


async def serve_until_signalled(
    apps: Sequence[tuple[ServiceApp, ServerOptions]],
    companions: Sequence[Callable[[], Awaitable[Stopper]]] = (),
) -> int:
    """Runs the services (and companions, e.g. demo partner lenders, started first and stopped last)
    until SIGTERM/SIGINT, then drains them. Returns the process exit code."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    running: list[RunningService] = []
    stoppers: list[Stopper] = []

    def reload_all() -> None:
        for service in running:
            with contextlib.suppress(ConfigError), service_context(service.app.name):
                service.app.config.reload()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload_all)
    try:
        with service_context(COMPANION):
            for start_companion in companions:
                stoppers.append(await start_companion())
        for app, options in apps:
            running.append(await start_service(app, options))
        await stop.wait()
        for service in running:
            with service_context(service.app.name):
                log.info("shutdown_requested")
    finally:
        grace = max((options.grace_seconds for _, options in apps), default=0.0)
        await asyncio.gather(*(service.stop(grace) for service in running))
        with service_context(COMPANION):
            for stop_companion in stoppers:
                await stop_companion()
        shutdown_tracing()  # exports the spans still batched (no-op when tracing is off)
    return 0


COMPANION = "partner-sim"  # the `service` of what demo companions log (--with-partner-sim)
