"""Each service's newest migration goes down and up again on a database with rows in it, on both engines:
the downgrade runs, takes the schema back to the revision before, and the upgrade that follows brings back
the same tables, columns, types, nullability and indexes as a fresh upgrade (the events tables most of all,
whose newest revisions rename columns and add a stream position and the consumer and ingest tables).

The service first serves traffic that writes events (outside events ingested: rows without a dedupe key,
one with a type longer than the older schema holds), so the downgrade meets the rows the running code
writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from services.common.db import Database
from services.common.migrations import alembic_config, migration_lock, upgrade
from services.registry import SERVICES
from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from tests.helpers import REPO, DbTarget, key, running_service

MIGRATIONS = {name: REPO / "services" / name / "migrations" for name in SERVICES}
CONFIGS = {name: REPO / "config" / f"{name}.yaml" for name in SERVICES}
# Outside events' types; the last is longer than an older events table's type column holds.
TYPES = ("sign_in", "birthday", "payroll_credited_by_partner_bank_x")


async def downgrade(db: Database, script_location: Path, revision: str) -> None:
    cfg = alembic_config(script_location)

    def _run(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)

    async with migration_lock(db, script_location.parent.name):
        async with db.write_engine.begin() as connection:
            await connection.run_sync(_run)


def _shape(connection: Connection, schema: str | None) -> dict[str, Any]:
    found = inspect(connection)
    shape: dict[str, Any] = {}
    for table in sorted(found.get_table_names(schema=schema)):
        columns = {c["name"]: (str(c["type"]), c["nullable"]) for c in found.get_columns(table, schema=schema)}
        indexes = {(i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table, schema)}
        shape[table] = (columns, indexes)
    return shape


async def shape_of(db: Database) -> dict[str, Any]:
    async with db.write_engine.connect() as connection:
        return await connection.run_sync(_shape, db.schema)


async def version_of(db: Database) -> str:
    async with db.write_engine.connect() as connection:
        return str((await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one())


async def write_events(build: Any, target: DbTarget, config: Path) -> None:
    """The service as it runs, writing event rows (an outside event has no dedupe key)."""
    async with running_service(build, target, config) as h:
        stub = events_pb2_grpc.EventIngestServiceStub(h.channel)
        for n in range(3):
            outside = events_pb2.OutsideEvent(
                idempotency_key=key(),
                source="test",
                type=TYPES[n],
                customer=types_pb2.CustomerRef(ref=f"customer-{n:04}"),
            )
            answer = await stub.IngestEvents(events_pb2.IngestEventsRequest(idempotency_key=key(), events=[outside]))
            assert answer.results[0].status == events_pb2.INGEST_STATUS_ACCEPTED


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_the_newest_migration_goes_down_and_up_again_with_rows_in_place(
    service: str, db_target: DbTarget, tmp_path: Path
) -> None:
    config = tmp_path / f"{service}.yaml"
    config.write_text(CONFIGS[service].read_text(encoding="utf-8"), encoding="utf-8")
    await write_events(SERVICES[service].build, db_target, config)
    script = ScriptDirectory.from_config(alembic_config(MIGRATIONS[service]))
    head = script.get_revision("head")
    assert head is not None and isinstance(head.down_revision, str)
    db = Database(db_target.url, schema=db_target.schema, pool_size=2)
    try:
        at_head = await shape_of(db)
        await downgrade(db, MIGRATIONS[service], head.down_revision)
        assert await version_of(db) == head.down_revision
        below = await shape_of(db)
        assert below != at_head
        if "events" in below:  # the revision before already had the events table: its rows went down with it
            async with db.write_engine.connect() as connection:
                kept = (await connection.execute(text("SELECT count(*) FROM events"))).scalar_one()
            assert kept > 0
        await upgrade(db, MIGRATIONS[service])
        assert await version_of(db) == head.revision
        assert await shape_of(db) == at_head
    finally:
        await db.dispose()
