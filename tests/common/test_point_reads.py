"""Database.read on SQLite runs without a session (services/common/point_reads.py): it answers what a
session answers, sees one snapshot, refuses what needs the ORM, and cannot write. On PostgreSQL read()
is a session, and the same reads answer the same."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer, String, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import Database, insert_entity
from services.common.point_reads import InlineReadSession, PostgresReadSession
from tests.helpers import DbTarget


class _Base(DeclarativeBase):
    pass


class Gadget(_Base):
    __tablename__ = "gadgets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer, default=7)


async def _database(target: DbTarget) -> Database:
    db = Database(target.url, schema=target.schema)
    async with db.write_engine.begin() as conn:
        await conn.run_sync(_Base.metadata.create_all)
    async with db.transaction() as session:
        await insert_entity(session, Gadget(id=1, name="one"))  # count: the column's default
        await insert_entity(session, Gadget(id=2, name="two", count=2))
    return db


async def test_reads_answer_what_a_session_answers(db_target: DbTarget) -> None:
    db = await _database(db_target)
    try:
        columns = select(Gadget.name, Gadget.count).order_by(Gadget.id)
        total = select(func.sum(Gadget.count))
        async with db.read() as reading:
            rows = [tuple(row) for row in await reading.execute(columns)]
            summed = await reading.scalar(total)
            raw = (await reading.execute(text("SELECT name FROM gadgets WHERE id = :i"), {"i": 2})).scalar()
        async with AsyncSession(db.read_engine) as plain:
            assert rows == [tuple(row) for row in await plain.execute(columns)] == [("one", 7), ("two", 2)]
            assert summed == await plain.scalar(total) == 9
        assert raw == "two"
        async with db.read() as reading:
            expected = InlineReadSession if db_target.engine == "sqlite" else PostgresReadSession
            assert isinstance(reading, expected)
    finally:
        await db.dispose()


@pytest.mark.parametrize("engine", ["sqlite"])  # PostgreSQL reads at READ COMMITTED: each statement its own
async def test_a_read_sees_one_snapshot_while_a_write_commits(db_target: DbTarget) -> None:
    db = await _database(db_target)
    try:
        async with db.read() as reading:
            before = await reading.scalar(select(Gadget.count).where(Gadget.id == 2))
            async with db.transaction() as session:
                await session.execute(update(Gadget.__table__).where(Gadget.__table__.c.id == 2).values(count=50))
            during = await reading.scalar(select(Gadget.count).where(Gadget.id == 2))
        async with db.read() as reading:
            after = await reading.scalar(select(Gadget.count).where(Gadget.id == 2))
        assert (before, during, after) == (2, 2, 50)
    finally:
        await db.dispose()


async def test_entities_and_writes_are_refused_and_change_nothing(db_target: DbTarget) -> None:
    db = await _database(db_target)
    try:
        async with db.read() as reading:
            with pytest.raises(TypeError, match="read_entities"):
                await reading.execute(select(Gadget))
            with pytest.raises(TypeError, match="does not write"):
                await reading.execute(insert(Gadget.__table__).values(id=3, name="three", count=3))
            with pytest.raises(TypeError, match="does not write"):
                await reading.execute(text("UPDATE gadgets SET count = 0"))
        async with db.read_entities() as session:
            gadgets = (await session.execute(select(Gadget).order_by(Gadget.id))).scalars().all()
        assert [(g.name, g.count) for g in gadgets] == [("one", 7), ("two", 2)]
    finally:
        await db.dispose()


@pytest.mark.parametrize("engine", ["sqlite"])
async def test_sqlite_read_connections_cannot_write(db_target: DbTarget) -> None:
    db = await _database(db_target)
    try:
        assert db.inline_reader is not None
        with db.inline_reader._snapshot() as connection, pytest.raises(Exception, match="readonly"):
            connection.execute("UPDATE gadgets SET count = 0")
        async with db.read() as reading:
            assert await reading.scalar(select(func.sum(Gadget.count))) == 9
    finally:
        await db.dispose()
