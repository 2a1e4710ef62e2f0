"""Replicas starting together upgrade one empty database at once, and every one of them starts.

On PostgreSQL the upgrades queue on a session-level advisory lock (services/common/migrations.py); on
SQLite on the file's writer flock, which separate processes share through the kernel.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from services.common.db import Database
from services.common.migrations import advisory_lock_key, upgrade
from services.registry import SERVICES
from tests.helpers import POSTGRES_URL, REPO, create_pg_schema, drop_pg_schema

MIGRATIONS = {name: REPO / "services" / name / "migrations" for name in SERVICES}
REPLICAS = 4


async def _version(db: Database) -> str:
    async with db.write_engine.connect() as connection:
        return str((await connection.execute(text("SELECT version_num FROM alembic_version"))).scalar_one())


@pytest.mark.skipif(not POSTGRES_URL, reason="needs SKYLANE_TEST_POSTGRES_URL")
@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_concurrent_upgrades_of_a_fresh_postgres_schema_all_succeed(service: str) -> None:
    schema = await create_pg_schema()
    replicas = [Database(POSTGRES_URL, schema=schema, pool_size=2) for _ in range(REPLICAS)]
    try:
        # Unlocked, the replicas' CREATE TABLEs block on one another: the timeout turns a hang into a failure.
        await asyncio.wait_for(asyncio.gather(*(upgrade(db, MIGRATIONS[service]) for db in replicas)), 120)
        versions = {await _version(db) for db in replicas}
        assert len(versions) == 1
        async with replicas[0].write_engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names(schema=schema))
        assert "idempotency_keys" in tables and len(tables) > 3
        # The lock was released: a session can take it at once.
        async with replicas[0].write_engine.connect() as connection:
            key = advisory_lock_key(service, schema)
            assert (await connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})).scalar_one()
            await connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
    finally:
        for db in replicas:
            await db.dispose()
        await drop_pg_schema(schema)


def test_the_lock_key_is_per_service_and_schema() -> None:
    keys = {advisory_lock_key(s, schema) for s in SERVICES for schema in (None, "a", "b")}
    assert len(keys) == len(SERVICES) * 3
    assert all(-(2**63) <= k < 2**63 for k in keys)


_UPGRADE = """
import asyncio, json, sys, time
from pathlib import Path
from services.common.db import Database
from services.common.migrations import upgrade

async def main() -> None:
    targets = json.loads(sys.argv[1])  # url -> migrations
    while time.time() < float(sys.argv[2]):  # start together
        await asyncio.sleep(0.005)
    for url, migrations in targets.items():
        db = Database(url)
        try:
            await upgrade(db, Path(migrations))
        finally:
            await db.dispose()

asyncio.run(main())
"""


def test_processes_upgrading_fresh_sqlite_files_at_once_all_succeed(tmp_path: Path) -> None:
    """Each process upgrades the three services' files, in the same order, all starting together."""
    urls = {name: f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}" for name in SERVICES}
    targets = json.dumps({urls[name]: str(MIGRATIONS[name]) for name in SERVICES})
    start_at = str(time.time() + 2.0)  # after every interpreter has imported
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _UPGRADE, targets, start_at],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(REPLICAS)
    ]
    results = [p.communicate(timeout=120) for p in processes]
    for process, (_, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err.decode()

    async def versions() -> set[str]:
        found = set()
        for url in urls.values():
            db = Database(url)
            try:
                found.add(await _version(db))
            finally:
                await db.dispose()
        return found

    assert len(asyncio.run(versions())) == len(SERVICES)  # each file at its service's head
