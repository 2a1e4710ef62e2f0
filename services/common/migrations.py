"""Alembic migrations run from code, the same way on SQLite and PostgreSQL.

Each service keeps its revisions in ``services/<name>/migrations``; its env.py calls
``run_env(target_metadata)``. ``skylane db upgrade`` and service start-up both call ``upgrade``.
To write a new revision against a scratch SQLite database:

    alembic -c services/<name>/migrations/alembic.ini revision --autogenerate -m "what changed"

Replicas started together (compose `--scale`, a Deployment's pods, the migration Job racing a pod) upgrade
one database at once. Each upgrade runs under a lock, so the first brings the schema to head and the others
then find nothing to do, instead of racing to create the same tables: on PostgreSQL a session-level
`pg_advisory_lock` held on a connection of its own for the whole upgrade (keyed per service and schema;
released when that connection closes, so a crashed process cannot leave it held), on SQLite the exclusive
flock every writer of the file queues on (services/common/writer_lock.py).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from services.common.db import Database

log = structlog.get_logger("skylane.migrations")


def alembic_config(script_location: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


async def upgrade(db: Database, script_location: Path, revision: str = "head") -> None:
    cfg = alembic_config(script_location)

    def _run(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with migration_lock(db, script_location.parent.name):
        async with db.write_engine.begin() as connection:
            await connection.run_sync(_run)


def advisory_lock_key(service: str, schema: str | None) -> int:
    """The pg_advisory_lock key of one service's migrations in one schema (a signed 64-bit number)."""
    digest = hashlib.sha256(f"skylane-migrations:{service}:{schema or ''}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.asynccontextmanager
async def migration_lock(db: Database, service: str) -> AsyncIterator[None]:
    """Held while one process upgrades the service's schema; others wait for it."""
    if db.writer_lock is not None:  # SQLite: the file's writer lock, across processes
        async with db.writer_lock.held():
            yield
        return
    if db.dialect != "postgresql":
        yield
        return
    key = advisory_lock_key(service, db.schema)
    # A connection of its own: the lock belongs to the database session, not to the upgrade's transaction.
    connection = await db.write_engine.connect()
    try:
        await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        await connection.commit()  # a session lock outlives the transaction; do not sit idle in one
        log.debug("migration_lock_taken", service=service, schema=db.schema)
        yield
    finally:
        try:
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            await connection.commit()
        except Exception:
            # Closing the session releases every lock it holds: never hand a locked connection to the pool.
            await connection.invalidate()
        await connection.close()


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's migrations/env.py."""
    connection = context.config.attributes.get("connection")
    if connection is None:
        # Offline/CLI use (e.g. autogenerate): connect with the URL from the ini file.
        from sqlalchemy import create_engine

        url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///var/alembic-scratch.db"
        engine = create_engine(url)
        with engine.begin() as conn:
            _configure_and_run(conn, target_metadata)
        return
    _configure_and_run(connection, target_metadata)


def _configure_and_run(connection: Connection, target_metadata: MetaData) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
