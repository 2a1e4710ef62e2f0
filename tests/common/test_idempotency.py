"""The idempotency store against real databases: replay, conflicting reuse, concurrent duplicates."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import MetaData, func, select

from services.common.clock import ManualClock
from services.common.db import Database
from services.common.errors import AlreadyExists, InvalidArgument
from services.common.idempotency import IdempotencyStore, fingerprint, idempotency_table
from services.common.migrations import upgrade
from skylane.common.v1 import admin_pb2, types_pb2
from tests.helpers import DbTarget

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def store(db_target: DbTarget):  # type: ignore[no-untyped-def]
    db = Database(db_target.url, schema=db_target.schema)
    await upgrade(db, REPO / "services" / "rewards" / "migrations")
    yield db, IdempotencyStore(idempotency_table(MetaData()), db.dialect, ManualClock())
    await db.dispose()


def _request(value: str) -> admin_pb2.ReloadConfigRequest:
    return admin_pb2.ReloadConfigRequest(idempotency_key=types_pb2.IdempotencyKey(value=value))


async def test_repeated_key_returns_stored_response_and_runs_once(store) -> None:  # type: ignore[no-untyped-def]
    db, idem = store
    runs = []

    async def handler() -> admin_pb2.ReloadConfigResponse:
        runs.append(1)
        return admin_pb2.ReloadConfigResponse(changed=True, version=f"v{len(runs)}")

    answers = []
    for _ in range(3):
        async with db.transaction() as session:
            answers.append(await idem.run(session, "M", _request("k-1"), admin_pb2.ReloadConfigResponse, handler))
    assert len(runs) == 1
    assert [a.version for a in answers] == ["v1", "v1", "v1"]


def _keyed_request_type():  # type: ignore[no-untyped-def]
    """A request type with a key and a payload, built at runtime (the suite's protos have none so small)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    pool = descriptor_pool.DescriptorPool()
    for dependency in (types_pb2.DESCRIPTOR,):
        dependency_proto = descriptor_pb2.FileDescriptorProto()
        dependency.CopyToProto(dependency_proto)
        for nested in dependency.dependencies:
            nested_proto = descriptor_pb2.FileDescriptorProto()
            nested.CopyToProto(nested_proto)
            pool.Add(nested_proto)
        pool.Add(dependency_proto)
    file_proto = descriptor_pb2.FileDescriptorProto(
        name="test_keyed.proto", package="test", dependency=["skylane/common/v1/types.proto"], syntax="proto3"
    )
    message = file_proto.message_type.add(name="KeyedRequest")
    message.field.add(
        name="idempotency_key",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
        type_name=".skylane.common.v1.IdempotencyKey",
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    message.field.add(
        name="payload",
        number=2,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    pool.Add(file_proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("test.KeyedRequest"))


async def test_reused_key_with_different_request_is_refused(store) -> None:  # type: ignore[no-untyped-def]
    db, idem = store
    keyed = _keyed_request_type()

    def request(key_value: str, payload: str):  # type: ignore[no-untyped-def]
        message = keyed(payload=payload)
        message.idempotency_key.value = key_value
        return message

    async def handler() -> admin_pb2.ProbeResponse:
        return admin_pb2.ProbeResponse(service="first")

    async with db.transaction() as session:
        await idem.run(session, "M", request("k-2", "spend 100"), admin_pb2.ProbeResponse, handler)
    with pytest.raises(AlreadyExists) as refused:
        async with db.transaction() as session:
            await idem.run(session, "M", request("k-2", "spend 900"), admin_pb2.ProbeResponse, handler)
    assert refused.value.reason == "IDEMPOTENCY_KEY_REUSED"
    async with db.transaction() as session:  # the same key under another method is its own scope
        other = await idem.run(session, "Other", request("k-2", "spend 900"), admin_pb2.ProbeResponse, handler)
    assert other.service == "first"


async def test_failed_handler_leaves_no_key_behind(store) -> None:  # type: ignore[no-untyped-def]
    db, idem = store
    attempts = []

    async def flaky() -> admin_pb2.ReloadConfigResponse:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        return admin_pb2.ReloadConfigResponse(version="ok")

    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await idem.run(session, "M", _request("k-3"), admin_pb2.ReloadConfigResponse, flaky)
    async with db.transaction() as session:
        answer = await idem.run(session, "M", _request("k-3"), admin_pb2.ReloadConfigResponse, flaky)
    assert answer.version == "ok" and len(attempts) == 2


async def test_concurrent_duplicates_run_the_handler_once(store) -> None:  # type: ignore[no-untyped-def]
    db, idem = store
    runs = []

    async def slow() -> admin_pb2.ReloadConfigResponse:
        runs.append(1)
        await asyncio.sleep(0.05)
        return admin_pb2.ReloadConfigResponse(version="once")

    async def call() -> admin_pb2.ReloadConfigResponse:
        async with db.transaction() as session:
            return await idem.run(session, "M", _request("k-4"), admin_pb2.ReloadConfigResponse, slow)

    answers = await asyncio.gather(*(call() for _ in range(8)))
    assert len(runs) == 1 and {a.version for a in answers} == {"once"}
    async with db.read() as session:
        count = (await session.execute(select(func.count()).select_from(idem.table))).scalar_one()
    assert count == 1


async def test_missing_key_is_a_field_violation(store) -> None:  # type: ignore[no-untyped-def]
    db, idem = store

    async def handler() -> admin_pb2.ReloadConfigResponse:
        raise AssertionError("must not run")

    with pytest.raises(InvalidArgument) as err:
        async with db.transaction() as session:
            await idem.run(session, "M", admin_pb2.ReloadConfigRequest(), admin_pb2.ReloadConfigResponse, handler)
    assert [v.field for v in err.value.violations] == ["idempotency_key.value"]


async def test_purge_forgets_only_keys_older_than_the_retention(store) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    db, idem = store

    async def handler() -> admin_pb2.ReloadConfigResponse:
        return admin_pb2.ReloadConfigResponse(version="v")

    async with db.transaction() as session:
        await idem.run(session, "M", _request("old"), admin_pb2.ReloadConfigResponse, handler)
    idem.clock.advance(days=8)
    async with db.transaction() as session:
        await idem.run(session, "M", _request("new"), admin_pb2.ReloadConfigResponse, handler)
    async with db.transaction() as session:
        assert await idem.purge(session, timedelta(days=7)) == 1
    async with db.read() as session:
        assert set((await session.execute(select(idem.table.c.key))).scalars()) == {"new"}


def test_a_retry_carrying_fields_this_build_does_not_know_is_the_same_call() -> None:
    # A newer client (or a proxy that re-encodes) may add fields no handler here reads: its retry under the
    # same key must get the stored answer, not ALREADY_EXISTS "used for a different request".
    plain = _request("k-1")
    extra_field = b"\xfa\x3e\x05newer"  # field 999, length-delimited: unknown to ReloadConfigRequest
    newer = admin_pb2.ReloadConfigRequest.FromString(plain.SerializeToString() + extra_field)
    assert newer.SerializeToString() != plain.SerializeToString()
    assert fingerprint(newer) == fingerprint(plain)
    assert fingerprint(_request("k-2")) == fingerprint(plain)  # the key itself is not part of it either
