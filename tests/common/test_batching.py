"""Group commit: concurrent writes share transactions on SQLite, refused ones roll back alone."""

from __future__ import annotations

import asyncio
import contextvars
from pathlib import Path

import pytest
from sqlalchemy import MetaData, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.batching import WriteBatcher
from services.common.call_context import call_log_var, current_request_id
from services.common.clock import ManualClock
from services.common.db import Database
from services.common.errors import FailedPrecondition
from services.common.idempotency import IdempotencyStore, idempotency_table
from services.common.migrations import upgrade
from skylane.common.v1 import admin_pb2, types_pb2
from tests.helpers import DbTarget

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def db(db_target: DbTarget):  # type: ignore[no-untyped-def]
    database = Database(db_target.url, schema=db_target.schema)
    await upgrade(database, REPO / "services" / "rewards" / "migrations")
    yield database
    await database.dispose()


async def test_concurrent_units_commit_together_and_failures_roll_back_alone(db: Database) -> None:
    batcher = WriteBatcher(db)
    idem = IdempotencyStore(idempotency_table(MetaData()), db.dialect, ManualClock())

    def unit(i: int):  # type: ignore[no-untyped-def]
        async def work(session: AsyncSession) -> admin_pb2.ReloadConfigResponse:
            async def handler() -> admin_pb2.ReloadConfigResponse:
                if i % 5 == 0:
                    raise FailedPrecondition("REFUSED", f"unit {i} refused")
                return admin_pb2.ReloadConfigResponse(version=str(i))

            request = admin_pb2.ReloadConfigRequest(idempotency_key=types_pb2.IdempotencyKey(value=f"k{i}"))
            return await idem.run(session, "M", request, admin_pb2.ReloadConfigResponse, handler)

        return work

    results = await asyncio.gather(*(batcher.run(unit(i)) for i in range(60)), return_exceptions=True)
    await batcher.close()
    refused = [i for i, r in enumerate(results) if isinstance(r, FailedPrecondition)]
    assert refused == list(range(0, 60, 5))
    assert all(r.version == str(i) for i, r in enumerate(results) if i % 5)  # type: ignore[union-attr]
    async with db.read() as session:
        stored = set((await session.execute(select(idem.table.c.key))).scalars())
    assert stored == {f"k{i}" for i in range(60) if i % 5}  # refused units left nothing behind
    if db.dialect == "sqlite":
        assert batcher.commits < 60 / 4  # shared transactions, not one per unit


async def test_a_failed_commit_fails_every_caller_in_the_batch(db: Database) -> None:
    batcher = WriteBatcher(db)
    table = idempotency_table(MetaData())

    async def count(session: AsyncSession) -> int:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())

    assert await batcher.run(count) == 0
    await batcher.close()


async def test_each_unit_sees_its_own_callers_request_id_and_the_worker_keeps_none(db: Database) -> None:
    # The worker is started by the first call that needs it; a task copies the context it was created in,
    # so every later unit's log lines carried that first call's request id.
    batcher = WriteBatcher(db)
    seen: dict[str, str] = {}

    async def call(request_id: str) -> None:
        call_log_var.set((request_id, "/test/Write", "test"))

        async def work(session: AsyncSession) -> None:
            seen[request_id] = current_request_id()

        await batcher.run(work)

    await asyncio.gather(*(asyncio.create_task(call(f"req-{i}")) for i in range(20)))

    async def outside_any_call(session: AsyncSession) -> None:  # a worker's write: no request id of anyone's
        seen["outside"] = current_request_id()

    await asyncio.create_task(batcher.run(outside_any_call), context=contextvars.Context())
    await batcher.close()
    assert seen == {**{f"req-{i}": f"req-{i}" for i in range(20)}, "outside": ""}
