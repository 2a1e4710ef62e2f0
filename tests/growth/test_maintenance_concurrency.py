"""Maintenance passes running at once (RunMaintenance calls, background loops, several processes) give
one effect between them and never fail: every lot expires once, every hold times out once, every
warning is emitted once, every member is reviewed once and the review is recorded once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import grpc
from sqlalchemy import text

from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client, ledger_sums, member_consistency
from tests.helpers import key

MEMBERS = 4
PASSES = 5


async def _world(growth: Client) -> list[str]:
    """Per member, one item for every job: an old lot to expire, a lot to warn about, a spend hold
    and a pending award to time out, and an l3 level that falls short at the July 2027 review."""
    refs = [await growth.enroll() for _ in range(MEMBERS)]
    for ref in refs:
        for _ in range(3):
            await growth.record(ref, "grow")
        await growth.earn(ref, 40)  # expires after 30 days
    growth.h.clock.set(datetime(2027, 6, 5, 1, tzinfo=UTC))
    for ref in refs:
        await growth.earn(ref, 70)  # expires 5 July: warned 5 days ahead
    growth.h.clock.set(datetime(2027, 6, 30, 1, tzinfo=UTC))
    for ref in refs:
        await growth.hold(ref, 10, ttl=600)  # released on timeout
        await growth.record(ref, "invite")  # pending 3 days, released on timeout
    growth.h.clock.set(datetime(2027, 7, 3, 2, tzinfo=UTC))  # after the 1 July review (local)
    return refs


async def _rows(growth: Client, sql: str) -> int:
    async with growth.h.app.db.read() as s:
        return int((await s.execute(text(sql))).scalar_one())


async def test_concurrent_run_maintenance_passes_have_one_effect(growth: Client) -> None:
    refs = await _world(growth)
    calls = [growth.ops.RunMaintenance(growth_pb2.RunMaintenanceRequest(idempotency_key=key())) for _ in range(PASSES)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, [(e.code(), e.details()) if isinstance(e, grpc.aio.AioRpcError) else e for e in errors]
    done = [r for r in results if isinstance(r, growth_pb2.RunMaintenanceResponse)]
    assert sum(r.lots_expired for r in done) == MEMBERS
    assert sum(r.holds_timed_out for r in done) == 2 * MEMBERS
    assert sum(r.warnings_emitted for r in done) == MEMBERS
    assert sum(r.level_changes for r in done) == MEMBERS

    assert await _rows(growth, "SELECT COUNT(*) FROM level_reviews") == 1
    assert await _rows(growth, "SELECT COUNT(*) FROM transactions WHERE kind = 'expire'") == MEMBERS
    assert await _rows(growth, "SELECT COUNT(*) FROM transactions WHERE kind = 'release'") == 2 * MEMBERS
    for ref in refs:
        kinds = Counter(e.type for e in await growth.events(ref))
        assert (kinds["points_expired"], kinds["points_expiring"], kinds["level_grace_started"]) == (1, 1, 1)
        level = await growth.level(ref)
        assert level.level == "l3" and level.HasField("grace_until")  # grace opened once, no drop
        available, lots, entries, held_gap = await member_consistency(growth.h, ref)
        assert available == lots == entries == 70 and held_gap == 0
    assert set((await ledger_sums(growth.h)).values()) == {0}

    again = await growth.ops.RunMaintenance(growth_pb2.RunMaintenanceRequest(idempotency_key=key()))
    assert (again.lots_expired, again.holds_timed_out, again.warnings_emitted, again.level_changes) == (0, 0, 0, 0)


async def test_concurrent_jobs_and_grace_end_reviews_have_one_effect(growth: Client) -> None:
    """Each job alone, raced against itself (what the background loops and an ops call do), and the
    end of a grace period (a one-level drop, which a second review must not repeat)."""
    refs = await _world(growth)
    jobs = growth.h.app.maintenance
    for job, expected in (
        (jobs.timeout_holds_once, 2 * MEMBERS),
        (jobs.expire_once, MEMBERS),
        (jobs.warn_once, MEMBERS),
        (jobs.review_once, MEMBERS),
    ):
        counts = await asyncio.gather(*(job() for _ in range(PASSES)))
        assert sum(counts) == expected, (job.__name__, counts)
    growth.h.clock.set(datetime(2027, 8, 3, 1, tzinfo=UTC))  # grace over, still short: one level down
    counts = await asyncio.gather(*(jobs.review_once() for _ in range(PASSES)))
    assert sum(counts) == MEMBERS
    for ref in refs:
        assert (await growth.balance(ref)).level == "l2"
        changed = [(e.data["from"], e.data["to"]) for e in await growth.events(ref) if e.type == "level_changed"]
        assert changed[-1] == ("l3", "l2") and changed.count(("l3", "l2")) == 1
    assert await _rows(growth, "SELECT COUNT(*) FROM level_reviews") == 1


async def test_concurrent_run_maintenance_retries_under_one_key_answer_alike(growth: Client) -> None:
    await _world(growth)
    request = growth_pb2.RunMaintenanceRequest(idempotency_key=key())
    answers = await asyncio.gather(*(growth.ops.RunMaintenance(request) for _ in range(PASSES)))
    assert len({a.SerializeToString(deterministic=True) for a in answers}) == 1
    assert await _rows(growth, "SELECT COUNT(*) FROM level_reviews") == 1
    assert await _rows(growth, "SELECT COUNT(*) FROM transactions WHERE kind = 'expire'") == MEMBERS
