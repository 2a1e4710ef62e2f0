"""Health, reflection, Admin and error mapping on real servers for each service."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.registry import SERVICES
from skylane.common.v1 import admin_pb2, admin_pb2_grpc
from tests.helpers import DbTarget, db_target_for, field_violations, running_service

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", list(SERVICES))
async def test_health_reflection_and_probe(name: str, db_target: DbTarget) -> None:
    async with running_service(SERVICES[name].build, db_target, REPO / "config" / f"{name}.yaml") as h:
        health = health_pb2_grpc.HealthStub(h.channel)
        overall = await health.Check(health_pb2.HealthCheckRequest(service=""))
        assert overall.status == health_pb2.HealthCheckResponse.SERVING
        business = await health.Check(
            health_pb2.HealthCheckRequest(service=f"skylane.{name}.v1.{name.capitalize()}Service")
        )
        assert business.status == health_pb2.HealthCheckResponse.SERVING
        watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
        assert (await watch.read()).status == health_pb2.HealthCheckResponse.SERVING  # still streams
        watch.cancel()
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND  # grpc's own answer, through the edge
        for method in ("Check", "Watch"):  # a body that is no HealthCheckRequest: the caller's fault, said so
            path = f"/grpc.health.v1.Health/{method}"
            call = h.channel.unary_unary(path) if method == "Check" else h.channel.unary_stream(path)
            with pytest.raises(grpc.aio.AioRpcError) as garbage:
                reply = call(b"\xff\xff\xff")
                await (reply if method == "Check" else reply.read())
            assert garbage.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method

        reflection = reflection_pb2_grpc.ServerReflectionStub(h.channel)
        responses = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        listed = [s.name async for r in responses for s in r.list_services_response.service]
        assert f"skylane.{name}.v1.{name.capitalize()}Service" in listed
        assert "skylane.common.v1.Admin" in listed

        admin = admin_pb2_grpc.AdminStub(h.channel)
        probe = await admin.Probe(admin_pb2.ProbeRequest(), metadata=(("x-request-id", "req-abc-123"),))
        assert (probe.service, probe.request_id) == (name, "req-abc-123")
        # An id that reads as a phone number is not quoted on every log line: the server makes its own.
        phone_id = await admin.Probe(admin_pb2.ProbeRequest(), metadata=(("x-request-id", "req-13812345678"),))
        assert phone_id.request_id and "13812345678" not in phone_id.request_id

        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await admin.Probe(admin_pb2.ProbeRequest(hold_ms=-5))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(field_violations(bad.value)) == {"hold_ms"}


async def test_stock_reflection_client_resolves_business_services(engine: str, tmp_path: Path) -> None:
    """grpc_reflection's own client (what grpcurl does) lists and describes each service."""
    import asyncio

    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    for name, entry in SERVICES.items():
        async with (
            db_target_for(engine, tmp_path, name) as target,
            running_service(entry.build, target, REPO / "config" / f"{name}.yaml") as h,
        ):

            def describe(address: str = h.service.address, service: str = name) -> tuple[list[str], str]:
                with grpc.insecure_channel(address) as channel:
                    database = ProtoReflectionDescriptorDatabase(channel)
                    full = f"skylane.{service}.v1.{service.capitalize()}Service"
                    return list(database.get_services()), database.FindFileContainingSymbol(full).name

            services, file_name = await asyncio.to_thread(describe)
            assert f"skylane.{name}.v1.{name.capitalize()}Service" in services
            assert file_name.startswith(f"skylane/{name}/v1/")
