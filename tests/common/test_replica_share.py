"""Replicas sharing one database measure their share of the traffic through it (services/common/replica_share.py),
on SQLite and PostgreSQL: each publishes its rate, reads the others', and forgets the ones gone silent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import MetaData, func, select

from services.common.clock import ManualClock
from services.common.db import Database
from services.common.migrations import upgrade
from services.common.replica_share import (
    FORGET_AFTER,
    PUBLISH_SECONDS,
    STALE_SECONDS,
    ReplicaLoad,
    TrafficShare,
    replica_table,
)
from tests.helpers import DbTarget

REPO = Path(__file__).resolve().parents[2]
ROWS = replica_table(MetaData())


@pytest.fixture
async def db(db_target: DbTarget) -> AsyncIterator[Database]:
    database = Database(db_target.url, schema=db_target.schema)
    await upgrade(database, REPO / "services" / "rewards" / "migrations")
    yield database
    await database.dispose()


def _served(traffic: TrafficShare, calls: int) -> None:
    for _ in range(calls):
        traffic.note()


async def _round(*loads: ReplicaLoad) -> None:
    """One publication period: each replica publishes, then the first reads the later ones' new rates too."""
    for load in loads:
        await load.publish()
    await loads[0].publish()


async def _rows(db: Database) -> int:
    async with db.read() as session:
        return int((await session.execute(select(func.count()).select_from(ROWS))).scalar_one())


async def test_each_replica_paces_with_its_share_of_the_calls(db: Database) -> None:
    clock = ManualClock()
    busy, quiet = TrafficShare(), TrafficShare()
    a, b = ReplicaLoad(db, clock, busy), ReplicaLoad(db, clock, quiet)
    assert busy.share == 1.0  # alone until measured
    await a.publish()
    await b.publish()  # no traffic measured yet: an equal split
    assert quiet.share == pytest.approx(0.5) and quiet.replicas == 2
    clock.advance(seconds=PUBLISH_SECONDS)
    _served(busy, 300)
    _served(quiet, 100)
    await a.publish()
    assert busy.share == pytest.approx(0.5)  # b's rate is not measured yet: still an equal split
    await b.publish()
    await a.publish()
    assert busy.share == pytest.approx(0.75)
    assert quiet.share == pytest.approx(0.25)
    assert busy.of(1000) == pytest.approx(750)
    assert busy.replicas == quiet.replicas == 2


async def test_the_rate_follows_a_change_in_the_balance_over_minutes_not_at_once(db: Database) -> None:
    clock = ManualClock()
    mine, other = TrafficShare(), TrafficShare()
    a, b = ReplicaLoad(db, clock, mine), ReplicaLoad(db, clock, other)
    for _ in range(6):  # a minute of an even split
        clock.advance(seconds=PUBLISH_SECONDS)
        _served(mine, 100)
        _served(other, 100)
        await _round(a, b)
    assert mine.share == pytest.approx(0.5)
    clock.advance(seconds=PUBLISH_SECONDS)
    _served(mine, 300)  # the balancer now sends this replica three times as much
    _served(other, 100)
    await _round(a, b)
    assert 0.5 < mine.share < 0.75  # moving, not jumped
    for _ in range(60):
        clock.advance(seconds=PUBLISH_SECONDS)
        _served(mine, 300)
        _served(other, 100)
        await _round(a, b)
    assert mine.share == pytest.approx(0.75, abs=0.01)


async def test_a_replica_gone_silent_leaves_the_sum_and_its_row_is_forgotten(db: Database) -> None:
    clock = ManualClock()
    mine, gone = TrafficShare(), TrafficShare()
    a, b = ReplicaLoad(db, clock, mine), ReplicaLoad(db, clock, gone)
    clock.advance(seconds=PUBLISH_SECONDS)
    _served(mine, 100)
    _served(gone, 100)
    await _round(a, b)
    assert mine.share == pytest.approx(0.5)
    clock.advance(seconds=STALE_SECONDS + 1)  # b crashed: it publishes no more
    _served(mine, 100)
    await a.publish()
    assert mine.share == 1.0 and mine.replicas == 1
    assert await _rows(db) == 2  # still kept, in case it was only partitioned
    clock.advance(FORGET_AFTER + timedelta(seconds=1))
    await a.publish()
    assert await _rows(db) == 1
