"""A consumer applies a batch without a savepoint per event; a batch in which one event cannot be applied (the
handler raises Skip or a DomainError) is rolled back and applied again with each event in its own
savepoint: the other events' effects are kept, once, the bad one is recorded as consumed with its reason,
and the cursor moves past the batch. Real SQLite and PostgreSQL, the consumer's own unit of work."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.batching import WriteBatcher
from services.common.clock import ManualClock
from services.common.consumer import Consumer, Skip
from services.common.db import Database
from services.common.errors import NotFound
from services.common.event_schema import consumer_tables
from skylane.common.v1 import events_pb2, types_pb2
from tests.helpers import db_target_for

METADATA = MetaData()
CURSORS, CONSUMED = consumer_tables(METADATA)
EFFECTS = Table("test_effects", METADATA, Column("event_id", String(64), primary_key=True))


def page(*ids: str, position: int) -> events_pb2.StreamEventsResponse:
    events = [
        events_pb2.DomainEvent(
            event_id=i, service="rewards", type="coupon_redeemed", customer=types_pb2.CustomerRef(ref="c")
        )
        for i in ids
    ]
    return events_pb2.StreamEventsResponse(events=events, cursor=f"rewards:{position}")


async def handle(session: AsyncSession, event: events_pb2.DomainEvent) -> str:
    await session.execute(EFFECTS.insert().values(event_id=event.event_id))  # written before it fails
    if event.event_id.startswith("skip"):
        raise Skip("NOT_FOR_US")
    if event.event_id.startswith("missing"):
        raise NotFound("member", "c")
    return "applied"


async def test_a_bad_event_costs_only_its_own_effect(engine: str, tmp_path: Path) -> None:
    async with db_target_for(engine, tmp_path, "consumer") as target:
        db = Database(target.url, schema=target.schema, pool_size=2)
        try:
            async with db.write_engine.begin() as conn:
                await conn.run_sync(METADATA.create_all)
            consumer = Consumer(
                peer="rewards", db=db, writes=WriteBatcher(db), clock=ManualClock(),
                settings=lambda: None, types=lambda: {"coupon_redeemed"}, handle=handle,
            )  # fmt: skip
            assert await consumer.apply([page("a1", "a2", position=2)]) == 2  # the fast path
            batch = [page("b1", "skip-b2", position=4), page("b3", "missing-b4", "b5", position=7)]
            assert await consumer.apply(batch) == 3
            assert await consumer.apply(batch) == 0  # delivered again: nothing
            async with db.read() as session:
                effects = set((await session.execute(select(EFFECTS.c.event_id))).scalars())
                outcomes = dict((await session.execute(select(CONSUMED.c.event_id, CONSUMED.c.outcome))).all())
            assert effects == {"a1", "a2", "b1", "b3", "b5"}
            assert outcomes == {
                "a1": "applied", "a2": "applied", "b1": "applied", "skip-b2": "NOT_FOR_US", "b3": "applied",
                "missing-b4": "NOT_FOUND", "b5": "applied",
            }  # fmt: skip
            assert await consumer.position() == 7
        finally:
            await db.dispose()
