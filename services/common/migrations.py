"""Alembic migrations run from code, the same way on SQLite and PostgreSQL.

Each service keeps its revisions in ``services/<name>/migrations``; its env.py calls
``run_env(target_metadata)``. ``skylane db upgrade`` and service start-up both call ``upgrade``.
To write a new revision against a scratch SQLite database:

    alembic -c services/<name>/migrations/alembic.ini revision --autogenerate -m "what changed"
"""

from __future__ import annotations

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from services.common.db import Database


def alembic_config(script_location: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


async def upgrade(db: Database, script_location: Path, revision: str = "head") -> None:
    cfg = alembic_config(script_location)

    def _run(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with db.write_engine.begin() as connection:
        await connection.run_sync(_run)


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
