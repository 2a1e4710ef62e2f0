"""after_commit: what a unit of work reports runs once its transaction commits, and never for a unit that
rolled back — alone in its transaction, or as one savepoint of a group commit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.after_commit import after_commit
from services.common.batching import WriteBatcher
from services.common.db import Database
from tests.helpers import DbTarget


def test_outside_a_unit_of_work_it_runs_at_once() -> None:
    ran: list[str] = []
    after_commit(lambda: ran.append("now"))
    assert ran == ["now"]


async def test_a_transaction_runs_them_after_its_commit_and_drops_them_on_rollback(db_target: DbTarget) -> None:
    db = Database(db_target.url, schema=db_target.schema)
    ran: list[str] = []
    try:
        async with db.transaction() as session:
            await session.execute(text("SELECT 1"))
            after_commit(lambda: ran.append("committed"))
            assert ran == []  # not before the commit
        assert ran == ["committed"]
        with pytest.raises(RuntimeError):
            async with db.transaction() as session:
                after_commit(lambda: ran.append("rolled back"))
                raise RuntimeError("refused")
        assert ran == ["committed"]
    finally:
        await db.dispose()


async def test_a_group_commit_drops_only_the_refused_units(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'batch.db'}")
    batcher = WriteBatcher(db)
    ran: list[int] = []

    def unit(n: int) -> Callable[[AsyncSession], Awaitable[int]]:
        async def work(session: AsyncSession) -> int:
            await session.execute(text("SELECT 1"))
            after_commit(lambda: ran.append(n))
            if n % 2:
                raise ValueError(n)
            return n

        return work

    try:
        results = await asyncio.gather(*(batcher.run(unit(n)) for n in range(6)), return_exceptions=True)
        assert [r for r in results if not isinstance(r, Exception)] == [0, 2, 4]
        assert sorted(ran) == [0, 2, 4]
        assert batcher.commits < 6  # they did share transactions
    finally:
        await batcher.close()
        await db.dispose()
