"""Several rewards replicas on one database: each paces with its share of the offers, and each takes in what
the others' offers taught, on real servers over real sockets, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from services.common.db import Database
from services.common.replica_share import ReplicaLoad, TrafficShare
from tests.helpers import DbTarget, Harness, db_target_for
from tests.rewards.helpers import claim, offer, redeem, rewards_service, stub

# About 0.27 arrivals a second seen by the pacer: a day's budget of ¥100,000 (and a total that does not bind
# sooner) leaves about ¥6.90 per arrival for the rest of the day — more than the one ¥10 coupon is expected
# to cost (it is redeemed about half the time) — but half of it, ¥3.45, is less.
BUDGET = {"total": 1_000_000_000, "daily": 10_000_000}


def _learned(h: Harness) -> dict[tuple[str, str], tuple[int, int, int, int]]:
    posteriors = h.app.runtime.campaign(h.app.config.model, "mall").posteriors
    return {cell: (c.trials, c.successes, c.claims, c.expired) for cell, c in posteriors.cells.items() if c.trials}


@asynccontextmanager
async def _peer(target: DbTarget, h: Harness) -> AsyncIterator[tuple[ReplicaLoad, TrafficShare]]:
    """Another replica's load publisher on the same database (its offers are only counted)."""
    db = Database(target.url, schema=target.schema)
    traffic = TrafficShare()
    try:
        yield ReplicaLoad(db, h.clock, traffic), traffic
    finally:
        await db.dispose()


async def _lambda_after_a_pacing_update(h: Harness, peer: tuple[ReplicaLoad, TrafficShare] | None) -> float:
    """21 offers over 20 s, then past the pacing interval one more: the pacer re-solves λ on what it saw."""
    h.app.runtime.rng = random.Random(7)  # the same draws in every run
    s = stub(h)
    for n in range(21):
        await offer(s, n)
        if peer is not None:
            peer[1].note()  # the other replica served as many
        h.clock.advance(seconds=1)
    h.clock.advance(seconds=61)
    if peer is not None:
        await peer[0].publish()
    await h.app.passes.publish_load()
    return getattr(await offer(s, 99), "lambda")


async def test_a_replica_serving_half_the_offers_paces_with_half_of_what_is_left(
    db_target: DbTarget, engine: str, tmp_path: Path
) -> None:
    """The same offers and draws on two fresh databases: alone, and beside a replica that served as many.
    Alone the day's budget does not bind and λ falls to its floor; beside it, the pacer plans with half of
    what is left, which binds, and λ comes out higher."""
    async with rewards_service(db_target, tmp_path, **BUDGET) as alone:
        lam_alone = await _lambda_after_a_pacing_update(alone, None)
        assert alone.app.runtime.traffic.share == 1.0
        assert lam_alone == alone.app.config.model.policy.lambda_min
    other = tmp_path / "other"
    other.mkdir()
    async with db_target_for(engine, other, "other") as target, rewards_service(target, other, **BUDGET) as h:
        async with _peer(target, h) as peer:
            await peer[0].publish()
            lam_shared = await _lambda_after_a_pacing_update(h, peer)
            assert h.app.runtime.traffic.share == 0.5
            assert h.app.runtime.traffic.replicas == 2
    assert lam_shared > lam_alone


async def test_each_replica_takes_in_what_the_others_offers_taught(db_target: DbTarget, tmp_path: Path) -> None:
    """Two replicas on one database, each learning live from its own calls: the take-in pass gives each the
    counts a restart would rebuild from every replica's decisions, and a lone replica skips the read."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with rewards_service(db_target, tmp_path / "a") as a:
        assert await a.app.passes.take_in_learning() is False  # alone: nothing to read
        async with rewards_service(db_target, tmp_path / "b") as b:
            await a.app.passes.publish_load()  # a hears of b
            sa, sb = stub(a), stub(b)
            for n in range(3):  # offered, claimed and redeemed on a
                made = await offer(sa, n)
                coupon = (await claim(sa, n, made.offer_id)).coupon
                await redeem(sa, n, coupon.coupon_id, f"order-{n}")
            made_on_b = await offer(sb, 10)
            cell = (made_on_b.segment, made_on_b.arm.id)
            assert _learned(a)[cell] == (3, 3, 3, 0)
            assert _learned(b)[cell] == (1, 0, 0, 0)
            assert await b.app.passes.take_in_learning() is True
            assert await a.app.passes.take_in_learning() is True
            assert _learned(a)[cell] == _learned(b)[cell] == (4, 3, 3, 0)
            await offer(sb, 11)  # learned live after the take-in, on top of it
            assert _learned(b)[cell] == (5, 3, 3, 0)
        async with rewards_service(db_target, tmp_path / "b") as restarted:
            assert _learned(restarted) == _learned(b)
