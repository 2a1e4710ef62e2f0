"""SQLite writers: one at a time across processes (flock), none lost to a cancelled waiter, and the
driver each service writes with.

Two Database objects on one file hold separate lock descriptors, which flock treats exactly like two
processes: the kernel, not the test, decides who waits. Both writer drivers (threaded, inline) are covered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from services.common.db import Database, default_sqlite_url
from services.common.settings import AppSettings
from services.common.sqlite_inline import InlineConnection
from services.registry import SERVICES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=[False, True], ids=["threaded-writer", "inline-writer"])
async def pair(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[tuple[Database, Database]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first, second = Database(url, sqlite_inline=request.param), Database(url, sqlite_inline=request.param)
    async with first.transaction() as session:
        await session.execute(text("CREATE TABLE marks (who TEXT NOT NULL)"))
    yield first, second
    await first.dispose()
    await second.dispose()


async def _write(db: Database, who: str, entered: asyncio.Event | None = None) -> list[str]:
    async with db.transaction() as session:
        if entered is not None:
            entered.set()
        seen = [row[0] for row in (await session.execute(text("SELECT who FROM marks ORDER BY rowid"))).all()]
        await session.execute(text("INSERT INTO marks (who) VALUES (:who)"), {"who": who})
    return seen


async def test_a_second_writer_waits_for_the_first_to_commit(pair: tuple[Database, Database]) -> None:
    first, second = pair
    release, holding, second_entered = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def hold_open() -> None:
        async with first.transaction() as session:
            await session.execute(text("INSERT INTO marks (who) VALUES ('first')"))
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold_open())
    await holding.wait()
    waiter = asyncio.create_task(_write(second, "second", second_entered))
    await asyncio.sleep(0.3)  # time for the second writer to get in, were the lock broken
    assert not second_entered.is_set(), "the second writer began while the first held the lock"
    # With the inline driver too: had the waiter blocked the loop inside SQLite instead of on the flock in a
    # thread, the holder could not commit and the waiter would fail with "database is locked".
    release.set()
    await holder
    assert await waiter == ["first"]  # it began only after the first committed


async def test_a_cancelled_waiter_does_not_keep_the_lock(pair: tuple[Database, Database], tmp_path: Path) -> None:
    first, second = pair
    release, holding = asyncio.Event(), asyncio.Event()

    async def hold_open() -> None:
        async with first.transaction():
            holding.set()
            await release.wait()

    holder = asyncio.create_task(hold_open())
    await holding.wait()
    waiter = asyncio.create_task(_write(second, "gave-up"))
    await asyncio.sleep(0.2)  # let the waiter's thread block in flock before it gives up
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await holder

    third = Database(f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}")
    try:
        # Would hang if the cancelled waiter's thread had kept the lock it obtained after giving up.
        assert await asyncio.wait_for(_write(third, "third"), timeout=30) == []
        assert await asyncio.wait_for(_write(second, "second"), timeout=30) == ["third"]
    finally:
        await third.dispose()


async def test_services_write_and_look_up_inline_and_report_threaded(tmp_path: Path) -> None:
    """The measured choice (docs/decisions.md): the writer and point reads run their statements on the
    loop thread; reports and worker scans keep the threaded driver so they never stall the loop."""
    for name in ("growth", "rewards", "router"):
        settings = AppSettings(config_path=REPO / "config" / f"{name}.yaml", db_url=default_sqlite_url(name, tmp_path))
        db = SERVICES[name].build(settings).db
        try:
            assert db.inline, name
            for engine, inline in ((db.write_engine, True), (db.read_engine, True), (db.report_engine, False)):
                async with engine.connect() as connection:
                    driver = (await connection.get_raw_connection()).driver_connection
                    assert isinstance(driver, InlineConnection) is inline, name
            async with db.read() as point, db.report() as report:
                assert (await point.execute(text("SELECT 1"))).scalar_one() == 1
                assert (await report.execute(text("SELECT 2"))).scalar_one() == 2
        finally:
            await db.dispose()
