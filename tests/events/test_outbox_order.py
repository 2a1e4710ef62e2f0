"""The outbox's stream order on PostgreSQL, where transactions commit out of insertion order: a reader that
passed a position never finds an event appear behind it (SQLite's single writer commits in order)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.common import outbox
from services.common.db import Database
from services.common.migrations import upgrade
from tests.helpers import ENGINES, REPO, DbTarget


# Only PostgreSQL: SQLite's one writer commits in insertion order, so the case cannot arise there.
@pytest.mark.parametrize("engine", [e for e in ENGINES if e == "postgres"])
async def test_an_event_committed_late_comes_after_what_was_read(db_target: DbTarget) -> None:
    db = Database(db_target.url, schema=db_target.schema)
    try:
        await upgrade(db, REPO / "services" / "router" / "migrations")
        at = datetime(2026, 1, 5, tzinfo=UTC)
        async with db.transaction() as slow:
            await outbox.emit(slow, db.dialect, type="slow", customer="c-1", at=at, data={})  # the smaller seq
            async with db.transaction() as fast:
                await outbox.emit(fast, db.dialect, type="fast", customer="c-2", at=at, data={})
            first = await outbox.page(db, 0, 10)
            assert [(e.type, e.position) for e in first] == [("fast", 1)]
        second = await outbox.page(db, first[-1].position, 10)
        assert [(e.type, e.position) for e in second] == [("slow", 2)]
        assert second[0].seq < first[0].seq  # inserted first, streamed after: no reader skipped it
    finally:
        await db.dispose()
