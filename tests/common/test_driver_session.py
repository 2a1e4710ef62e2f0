"""DriverSession runs Core statements on the driver and answers exactly what SQLAlchemy's own execution
answers: the same rows (typed by the same processors), rowcounts, defaults, errors and savepoints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import Database, UTCDateTime, insert_ignoring_conflicts
from services.common.driver_session import DriverResult, plans_for
from tests.helpers import DbTarget

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(32), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("count", Integer, nullable=False, default=0),
    Column("active", Boolean, nullable=False, default=True),
    Column("at", UTCDateTime, nullable=True),
)
_INSERT = insert(things)
_BY_KINDS = select(things.c.name, things.c.count, things.c.active, things.c.at).where(
    things.c.kind.in_(["a", "b"]), things.c.count >= bindparam("least")
)
_BUMP = update(things).where(things.c.kind == bindparam("k")).values(count=things.c.count + 1)
_UPSERT = text(
    "INSERT INTO things (name, kind, count, active) VALUES (:name, :kind, 1, true) "
    "ON CONFLICT (name) DO UPDATE SET count = things.count + 1 RETURNING count"
)
WHEN = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


async def _database(target: DbTarget) -> Database:
    db = Database(target.url, schema=target.schema)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return db


async def _both(db: Database, statement: Any, params: Any = None) -> tuple[list[Any], list[Any]]:
    """The rows the driver path and SQLAlchemy's own execution give for one statement, each in a transaction
    that is rolled back."""
    async with db.read() as session:
        fast = await session.execute(statement, params)
        assert isinstance(fast, DriverResult)
        fast_rows = [tuple(row) for row in fast]
    async with AsyncSession(db.read_engine) as plain, plain.begin():
        slow_rows = [tuple(row) for row in await plain.execute(statement, params)]
    return fast_rows, slow_rows


async def test_rows_defaults_and_rowcounts_match_sqlalchemy(db_target: DbTarget) -> None:
    db = await _database(db_target)
    try:
        async with db.transaction() as session:
            await session.execute(_INSERT, [{"name": f"n{i}", "kind": "ab"[i % 2], "at": WHEN} for i in range(4)])
            await session.execute(_INSERT, {"name": "other", "kind": "c", "count": 7})  # scalar defaults
            bumped = await session.execute(_BUMP, {"k": "a"})
            assert bumped.rowcount == 2  # type: ignore[attr-defined]
            assert (await session.execute(_UPSERT, {"name": "n0", "kind": "a"})).scalar_one() == 2
            conflict = insert_ignoring_conflicts(db.dialect, things)
            ignored = await session.execute(conflict, {"name": "n1", "kind": "b"})
            assert ignored.rowcount == 0  # type: ignore[attr-defined]
        fast, slow = await _both(db, _BY_KINDS.order_by(things.c.name), {"least": 1})
        assert fast == slow
        assert fast[0] == ("n0", 2, True, WHEN)  # typed as SQLAlchemy types them: bool, aware UTC datetime
        # A statement built per call with its own literal values, twice: each call answers for its own values.
        for name, count in (("n0", 2), ("other", 7)):
            per_call = select(things.c.count).where(things.c.name == name)
            fast, slow = await _both(db, per_call)
            assert fast == slow == [(count,)]
        # Two statement objects of one shape, each reused: the one the plan was compiled from reads its own
        # values from the plan, the other brings its own, whichever runs first.
        kept = {name: select(things.c.count).where(things.c.name == name) for name in ("n1", "other")}
        for name, count in (("other", 7), ("n1", 0), ("other", 7), ("n1", 0)):
            fast, slow = await _both(db, kept[name])
            assert fast == slow == [(count,)]
        fast, slow = await _both(db, select(func.count()).select_from(things).where(things.c.kind.in_(["a", "c"])))
        assert fast == slow == [(3,)]
    finally:
        await db.dispose()


async def test_kept_statements_with_literal_values_write_their_own_values(db_target: DbTarget) -> None:
    """Statements kept for reuse that carry literal values (``values(kind="x")``, a None) run on the direct
    path with their own values built into their plan: two objects of one shape each write theirs, whichever
    ran first, and a literal None beside named parameters is written as NULL."""
    db = await _database(db_target)
    named = insert(things).values(name=bindparam("p_name"), kind=bindparam("p_kind"), at=None)
    relabel = {
        kind: update(things).where(things.c.name == bindparam("p_name")).values(kind=kind, count=things.c.count + 5)
        for kind in ("x", "y")
    }
    try:
        async with db.transaction() as session:
            for name in ("n1", "n2", "n3"):
                await session.execute(named, {"p_name": name, "p_kind": "a"})
            for kind, name in (("y", "n2"), ("x", "n1"), ("y", "n3")):
                assert (await session.execute(relabel[kind], {"p_name": name})).rowcount == 1  # type: ignore[attr-defined]
        plans = plans_for(db.write_engine.dialect)
        for statement, keys in ((named, ("p_kind", "p_name")), (relabel["x"], ("p_name",))):
            plan, extracted = plans.plan(statement, keys)
            assert plan is not None and plan.direct is not None and extracted is None
        async with db.read() as session:
            rows = (await session.execute(select(things.c.name, things.c.kind, things.c.count, things.c.at))).all()
        assert sorted(tuple(r) for r in rows) == [("n1", "x", 5, None), ("n2", "y", 5, None), ("n3", "y", 5, None)]
    finally:
        await db.dispose()


async def test_errors_are_sqlalchemy_errors_and_a_unit_rolls_back_alone(db_target: DbTarget) -> None:
    db = await _database(db_target)
    try:
        async with db.transaction() as session:
            await session.execute(_INSERT, {"name": "kept", "kind": "a"})
            with pytest.raises(IntegrityError):
                async with session.unit():
                    await session.execute(_INSERT, {"name": "dropped", "kind": "a"})
                    await session.execute(_INSERT, {"name": "kept", "kind": "a"})  # unique name
            async with session.unit():
                await session.execute(_INSERT, {"name": "also kept", "kind": "b"})
        async with db.read() as session:
            names = (await session.execute(select(things.c.name).order_by(things.c.name))).scalars().all()
        assert names == ["also kept", "kept"]
    finally:
        await db.dispose()
