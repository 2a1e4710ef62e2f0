"""The shared runtime on real servers: error mapping, metrics, config reload, migrations."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from sqlalchemy import MetaData, inspect

from services.common.app import ServiceApp
from services.common.clock import ManualClock
from services.common.config import ConfigStore, Schema
from services.common.db import Database
from services.common.errors import FailedPrecondition, FieldViolation, InvalidArgument, QuotaExceeded
from services.common.server import ServerOptions, start_service
from services.growth.app import build as build_growth
from skylane.common.v1 import admin_pb2, admin_pb2_grpc
from tests.helpers import DbTarget, error_reason, field_violations, key, rich_details, running_service

REPO = Path(__file__).resolve().parents[2]


class _Empty(Schema):
    pass


class FaultyApp(ServiceApp):
    """A service whose handlers raise, to exercise the error interceptor end to end."""

    name = "faulty"

    def add_to_server(self, server: grpc.aio.Server) -> list[str]:
        async def explode(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            raise RuntimeError("password=hunter2 at /srv/db.py line 12")

        async def refuse(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            kind = request.decode()
            if kind == "bad":
                raise InvalidArgument([FieldViolation("amount", "must be positive"), FieldViolation("ref", "required")])
            if kind == "quota":
                raise QuotaExceeded("DAILY_CAP", "daily cap of 3 reached", subject="customer:abc")
            raise FailedPrecondition("INSUFFICIENT_POINTS", "needs 500 points, has 20", subject="member:m1")

        server.add_registered_method_handlers(
            "test.Faulty",
            {
                "Explode": grpc.unary_unary_rpc_method_handler(explode),
                "Refuse": grpc.unary_unary_rpc_method_handler(refuse),
            },
        )
        return ["test.Faulty"]


async def _start_faulty(db_target: DbTarget, tmp_path: Path, metrics_port: int | None = None):  # type: ignore[no-untyped-def]
    config_path = tmp_path / "faulty.yaml"
    config_path.write_text("{}\n")
    app = FaultyApp(
        config=ConfigStore(config_path, _Empty),
        db=Database(db_target.url, schema=db_target.schema),
        clock=ManualClock(),
        metadata=MetaData(),
        migrations=REPO / "services" / "growth" / "migrations",
    )
    return await start_service(app, ServerOptions(port=0, metrics_port=metrics_port, config_poll_seconds=None))


async def test_unexpected_exception_is_internal_without_internals(db_target: DbTarget, tmp_path: Path) -> None:
    service = await _start_faulty(db_target, tmp_path)
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await channel.unary_unary("/test.Faulty/Explode")(b"")
        assert err.value.code() == grpc.StatusCode.INTERNAL
        assert "hunter2" not in (err.value.details() or "")
        assert "db.py" not in (err.value.details() or "")
        assert "request id" in (err.value.details() or "")
    finally:
        await service.stop(1)


async def test_domain_errors_carry_google_rpc_details(db_target: DbTarget, tmp_path: Path) -> None:
    service = await _start_faulty(db_target, tmp_path)
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            refuse = channel.unary_unary("/test.Faulty/Refuse")
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await refuse(b"bad")
            with pytest.raises(grpc.aio.AioRpcError) as quota:
                await refuse(b"quota")
            with pytest.raises(grpc.aio.AioRpcError) as rule:
                await refuse(b"rule")
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field_violations(bad.value) == {"amount": "must be positive", "ref": "required"}
        assert quota.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error_reason(quota.value) == "DAILY_CAP"
        assert any(
            isinstance(d, error_details_pb2.QuotaFailure) and d.violations[0].subject == "customer:abc"
            for d in rich_details(quota.value)
        )
        assert rule.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert any(
            isinstance(d, error_details_pb2.PreconditionFailure) and d.violations[0].type == "INSUFFICIENT_POINTS"
            for d in rich_details(rule.value)
        )
    finally:
        await service.stop(1)


async def test_metrics_endpoint_counts_calls_by_code(db_target: DbTarget, tmp_path: Path) -> None:
    service = await _start_faulty(db_target, tmp_path, metrics_port=0)
    try:
        async with grpc.aio.insecure_channel(service.address) as channel:
            await admin_pb2_grpc.AdminStub(channel).Probe(admin_pb2.ProbeRequest())
            with pytest.raises(grpc.aio.AioRpcError):
                await channel.unary_unary("/test.Faulty/Refuse")(b"quota")
        url = f"http://127.0.0.1:{service.metrics_port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
        assert 'skylane_grpc_requests_total{code="OK",method="Probe",service="faulty"} 1.0' in body
        assert 'skylane_grpc_requests_total{code="RESOURCE_EXHAUSTED",method="Refuse",service="faulty"} 1.0' in body
        assert 'skylane_grpc_request_duration_seconds_count{method="Probe",service="faulty"} 1.0' in body
    finally:
        await service.stop(1)


async def test_invalid_reload_is_refused_and_old_version_keeps_serving(db_target: DbTarget, tmp_path: Path) -> None:
    config_path = tmp_path / "growth.yaml"
    config_path.write_text((REPO / "config" / "growth.yaml").read_text())
    async with running_service(build_growth, db_target, config_path) as h:
        admin = admin_pb2_grpc.AdminStub(h.channel)
        before = await admin.GetConfig(admin_pb2.GetConfigRequest())

        h.write_config(config_path.read_text() + "\nno_such_setting: 3\n")
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await admin.ReloadConfig(admin_pb2.ReloadConfigRequest(idempotency_key=key()))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_reason(refused.value) == "CONFIG_INVALID"
        assert "no_such_setting: unknown key" in (refused.value.details() or "")
        assert str(config_path) in (refused.value.details() or "")
        assert (await admin.GetConfig(admin_pb2.GetConfigRequest())).version == before.version
        await admin.Probe(admin_pb2.ProbeRequest())  # still serving

        h.write_config(
            config_path.read_text()
            .replace("\nno_such_setting: 3\n", "\n")
            .replace("timezone: Asia/Shanghai", "timezone: Asia/Hong_Kong")
        )
        reload_key = key()
        changed = await admin.ReloadConfig(admin_pb2.ReloadConfigRequest(idempotency_key=reload_key))
        assert changed.changed and changed.previous_version == before.version and changed.version != before.version
        assert h.app.config.model.timezone == "Asia/Hong_Kong"
        replay = await admin.ReloadConfig(admin_pb2.ReloadConfigRequest(idempotency_key=reload_key))
        assert replay == changed  # the stored first response, not a second reload's "unchanged"


async def test_validate_config_reports_each_problem(db_target: DbTarget, tmp_path: Path) -> None:
    config_path = tmp_path / "growth.yaml"
    config_path.write_text((REPO / "config" / "growth.yaml").read_text())
    async with running_service(build_growth, db_target, config_path) as h:
        admin = admin_pb2_grpc.AdminStub(h.channel)
        verdict = await admin.ValidateConfig(admin_pb2.ValidateConfigRequest(yaml="timezone: Mars/Olympus\nbogus: 1\n"))
        assert not verdict.valid
        assert any(e.startswith("timezone:") and "unknown time zone" in e for e in verdict.errors)
        assert "bogus: unknown key" in verdict.errors
        good = await admin.ValidateConfig(admin_pb2.ValidateConfigRequest(yaml=config_path.read_text()))
        assert good.valid and good.version == h.app.config.current.version


async def test_migrations_create_schema_and_rerun_as_noop(db_target: DbTarget) -> None:
    from services.common.migrations import upgrade

    db = Database(db_target.url, schema=db_target.schema)
    try:
        for _ in range(2):
            await upgrade(db, REPO / "services" / "growth" / "migrations")
        async with db.write_engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert {"idempotency_keys", "alembic_version"} <= tables
    finally:
        await db.dispose()


async def test_shutdown_turns_health_not_serving_before_draining(db_target: DbTarget, tmp_path: Path) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    service = await _start_faulty(db_target, tmp_path)
    async with grpc.aio.insecure_channel(service.address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service=""))
        first = await watch.read()
        in_flight = asyncio.ensure_future(admin_pb2_grpc.AdminStub(channel).Probe(admin_pb2.ProbeRequest(hold_ms=700)))
        await asyncio.sleep(0.2)
        stopping = asyncio.ensure_future(service.stop(grace=5))
        second = await watch.read()
        answer = await in_flight
        await stopping
    assert first.status == health_pb2.HealthCheckResponse.SERVING
    assert second.status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert answer.service == "faulty"
