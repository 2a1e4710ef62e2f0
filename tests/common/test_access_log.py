"""The access log keeps every refused and slow call and a sample of the successful ones."""

from __future__ import annotations

import io
import json
from pathlib import Path

import grpc
import pytest

from services.common.edge import AccessLogPolicy
from services.common.logging import configure_logging
from services.common.server import ServerOptions
from services.growth.app import build
from skylane.common.v1 import admin_pb2, admin_pb2_grpc
from tests.growth.helpers import config as growth_config
from tests.helpers import DbTarget, running_service


def rpc_lines(stream: io.StringIO) -> list[dict[str, object]]:
    events = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    return [e for e in events if e.get("event") == "rpc"]


async def calls(
    db_target: DbTarget, tmp_path: Path, options: ServerOptions, ok: int, refused: int
) -> list[dict[str, object]]:
    config = tmp_path / "growth.yaml"
    config.write_text(growth_config(), encoding="utf-8")
    stream = io.StringIO()
    configure_logging("info", stream=stream, cache=False)
    try:
        async with running_service(build, db_target, config, options=options) as h:
            admin = admin_pb2_grpc.AdminStub(h.channel)
            for _ in range(ok):
                await admin.Probe(admin_pb2.ProbeRequest())
            for _ in range(refused):
                with pytest.raises(grpc.aio.AioRpcError):
                    await admin.Probe(admin_pb2.ProbeRequest(hold_ms=10**9))
    finally:
        configure_logging("warning", cache=False)
    return rpc_lines(stream)


async def test_one_in_n_successful_calls_and_every_refused_call_are_logged(db_target: DbTarget, tmp_path: Path) -> None:
    options = ServerOptions(config_poll_seconds=None, access_log_sample=0.1, slow_call_ms=60_000)
    lines = await calls(db_target, tmp_path, options, ok=40, refused=3)
    assert sum(line["code"] == "OK" for line in lines) == 4
    refused = [line for line in lines if line["code"] != "OK"]
    assert len(refused) == 3 and all(line["reason"] for line in refused)


async def test_slow_calls_are_always_logged(db_target: DbTarget, tmp_path: Path) -> None:
    options = ServerOptions(config_poll_seconds=None, access_log=False, slow_call_ms=0)
    lines = await calls(db_target, tmp_path, options, ok=5, refused=0)
    assert len(lines) == 5 and all(line.get("slow") for line in lines)


def test_sample_shares() -> None:
    assert AccessLogPolicy.sampled(1.0).every == 1
    assert AccessLogPolicy.sampled(0.01).every == 100
    assert AccessLogPolicy.sampled(0.0).every == 0
    with pytest.raises(ValueError):
        AccessLogPolicy.sampled(1.5)


async def test_every_line_of_a_call_names_its_request_id_method_and_service(
    db_target: DbTarget, tmp_path: Path
) -> None:
    config = tmp_path / "growth.yaml"
    config.write_text(growth_config(), encoding="utf-8")
    stream = io.StringIO()
    configure_logging("info", stream=stream, cache=False)
    try:
        async with running_service(build, db_target, config, options=ServerOptions(config_poll_seconds=None)) as h:
            admin = admin_pb2_grpc.AdminStub(h.channel)
            generated = [(await admin.Probe(admin_pb2.ProbeRequest())).request_id for _ in range(3)]
            given = await admin.Probe(admin_pb2.ProbeRequest(), metadata=(("x-request-id", "req-7"),))
    finally:
        configure_logging("warning", cache=False)
    # Only this test's calls: a server another test left stopping in this process may still log a line.
    lines = [line for line in rpc_lines(stream) if line.get("request_id") in {*generated, "req-7"}]
    assert [line["request_id"] for line in lines] == [*generated, "req-7"] and given.request_id == "req-7"
    assert len(set(generated)) == 3 and all(len(r) == 32 and set(r) <= set("abcdefghijklmnop") for r in generated)
    assert {(line["method"], line["service"]) for line in lines} == {("/skylane.common.v1.Admin/Probe", "growth")}
