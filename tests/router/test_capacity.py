"""In-house capacity: exactly the cap under concurrent requests, per local day, overflow to the pool."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget
from tests.router.helpers import IN_HOUSE, POOL, START, codes, ops, request, router, stub, window


async def test_capacity_overflows_to_the_pool_at_exactly_the_cap_across_concurrent_requests(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with router(db_target, tmp_path, cap=7) as h:
        decisions = await asyncio.gather(*(stub(h).RouteApplicant(request(n)) for n in range(30)))
        in_house = [d for d in decisions if d.destination == IN_HOUSE]
        overflow = [d for d in decisions if d.destination == POOL]
        assert (len(in_house), len(overflow)) == (7, 23)
        assert all(d.tier == "prime" and codes(d)[-1] == "IN_HOUSE_CAPACITY_EXHAUSTED" for d in overflow)

        # A second concurrent wave the same local day gets no in-house slot at all.
        more = await asyncio.gather(*(stub(h).RouteApplicant(request(100 + n)) for n in range(5)))
        assert all(d.destination == POOL for d in more)

        # The cap is per local day in Asia/Shanghai: 17:00 local + 7 h = the next local day.
        h.clock.advance(hours=7)
        fresh = await asyncio.gather(*(stub(h).RouteApplicant(request(200 + n)) for n in range(9)))
        assert sum(d.destination == IN_HOUSE for d in fresh) == 7

        report = await ops(h).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=window(START - timedelta(days=1), START + timedelta(days=2)))
        )
        assert [(c.day, c.used, c.cap) for c in report.capacity] == [("2026-01-05", 7, 7), ("2026-01-06", 7, 7)]


async def test_two_routers_on_one_database_never_grant_more_than_the_cap(db_target: DbTarget, tmp_path: Path) -> None:
    """Replicas share the counter: whatever order their batches commit in, the day grants exactly the cap."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with router(db_target, tmp_path / "a", cap=9) as a, router(db_target, tmp_path / "b", cap=9) as b:
        calls = [stub(h).RouteApplicant(request(n)) for n in range(40) for h in ((a, b)[n % 2],)]
        decisions = await asyncio.gather(*calls)
        assert sum(d.destination == IN_HOUSE for d in decisions) == 9
        assert sum(d.destination == POOL for d in decisions) == 31
        report = await ops(a).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=window(START - timedelta(days=1), START + timedelta(days=1)))
        )
        assert [(c.used, c.cap) for c in report.capacity] == [(9, 9)]


class _OtherWriter:
    """A RoutingHook that, in the first batch only, moves the in-house counter inside the batch's own
    transaction after the batch has read it, as another process committing in between would."""

    def __init__(self, taken: int) -> None:
        self.taken, self.calls = taken, 0

    async def prepare(self, command: object, snapshot: object) -> None:
        return None

    async def in_transaction(self, session: AsyncSession, outcomes: object) -> None:
        self.calls += 1
        if self.calls == 1:
            await session.execute(text("UPDATE capacity_counters SET used = used + :n"), {"n": self.taken})


async def test_a_batch_whose_counter_moved_after_it_read_it_is_decided_again_under_the_lock(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with router(db_target, tmp_path, cap=4) as h:
        first = await stub(h).RouteApplicant(request(1))  # creates the day's counter: 1 of 4
        other = _OtherWriter(taken=3)
        h.app.routing.hooks.append(other)
        second = await stub(h).RouteApplicant(request(2))
        # Read 1, granted one slot (needs the counter at <= 3 when claimed); the counter reads 4 by then:
        # the claim fails, the attempt rolls back (the move with it) and the batch is decided again.
        assert other.calls == 2
        assert (first.destination, second.destination) == (IN_HOUSE, IN_HOUSE)
        report = await ops(h).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=window(START - timedelta(days=1), START + timedelta(days=1)))
        )
        assert [(c.used, c.cap) for c in report.capacity] == [(2, 4)]
