"""Levels: immediate upgrade, review with grace, one-down downgrade, manual override as a floor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest

from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client, cref, ts
from tests.helpers import error_reason, field_violations, key


async def test_upgrade_is_immediate_and_progress_shows_what_is_needed(growth: Client) -> None:
    ref = await growth.enroll()
    level = await growth.level(ref)
    assert (level.level, level.next_level, level.growth_to_next) == ("l0", "l1", 100)
    result = await growth.record(ref, "grow")
    assert result.level == "l1"
    level = await growth.level(ref)
    assert (level.level, level.window_growth, level.next_level, level.growth_to_next) == ("l1", 100, "l2", 100)
    assert level.growth_to_keep == 0
    changed = [e for e in await growth.events(ref) if e.type == "level_changed"]
    assert [(e.data["from"], e.data["to"]) for e in changed] == [("l0", "l1")]


async def test_downgrade_only_at_review_after_grace_one_level_at_a_time(growth: Client) -> None:
    ref = await growth.enroll()
    for _ in range(3):
        await growth.record(ref, "grow")
    assert (await growth.balance(ref)).level == "l3"
    app = growth.h.app

    # A year and a half later nothing was earned; until the review the level stays.
    growth.h.clock.set(datetime(2027, 6, 30, 12, tzinfo=UTC))
    await app.maintenance.review_once()
    assert (await growth.balance(ref)).level == "l3"
    # Review of 1 July 2027 (local): short of l3 -> grace period, level kept.
    growth.h.clock.set(datetime(2027, 7, 1, 1, tzinfo=UTC))
    assert await app.maintenance.review_once() == 1
    level = await growth.level(ref)
    assert level.level == "l3" and level.HasField("grace_until")
    assert level.growth_to_keep == 300
    # Grace over, still short: one level down only (would be l0 without one_down).
    growth.h.clock.advance(days=31)
    assert await app.maintenance.review_once() == 1
    assert (await growth.balance(ref)).level == "l2"
    # The next review again opens a grace period, then drops one more level.
    growth.h.clock.set(datetime(2028, 1, 1, 1, tzinfo=UTC))
    await app.maintenance.review_once()
    assert (await growth.balance(ref)).level == "l2"
    growth.h.clock.advance(days=31)
    await app.maintenance.review_once()
    assert (await growth.balance(ref)).level == "l1"
    types = [e.type for e in await growth.events(ref)]
    assert types.count("level_grace_started") == 2


async def test_earning_during_grace_keeps_the_level(growth: Client) -> None:
    ref = await growth.enroll()
    await growth.record(ref, "grow")
    await growth.record(ref, "grow")
    growth.h.clock.set(datetime(2027, 7, 1, 1, tzinfo=UTC))
    await growth.h.app.maintenance.review_once()
    assert (await growth.level(ref)).HasField("grace_until")
    await growth.record(ref, "grow")
    await growth.record(ref, "grow")
    growth.h.clock.advance(days=31)
    await growth.h.app.maintenance.review_once()
    level = await growth.level(ref)
    assert level.level == "l2" and not level.HasField("grace_until")


async def test_override_is_a_floor_until_its_date(growth: Client) -> None:
    ref = await growth.enroll()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.redeem(ref, "lounge")
    assert error_reason(err.value) == "LEVEL_NOT_ELIGIBLE"
    until = growth.h.clock.now() + timedelta(days=60)
    progress = await growth.ops.SetLevelOverride(
        growth_pb2.SetLevelOverrideRequest(
            idempotency_key=key(),
            customer=cref(ref),
            level="l2",
            reason="VIP complaint",
            until=ts(until),
            operator="ops_bob",
        )
    )
    assert (progress.level, progress.earned_level, progress.override_reason) == ("l2", "l0", "VIP complaint")
    assert (await growth.balance(ref)).level == "l2"
    await growth.record(ref, "grow")
    await growth.record(ref, "grow")
    await growth.record(ref, "grow")  # earned l3 is above the floor: the higher one wins
    assert (await growth.balance(ref)).level == "l3"

    other = await growth.enroll()
    await growth.ops.SetLevelOverride(
        growth_pb2.SetLevelOverrideRequest(
            idempotency_key=key(), customer=cref(other), level="l1", reason="promo", until=ts(until), operator="ops_bob"
        )
    )
    await growth.earn(other, 200)
    redemption = await growth.redeem(other, "lounge")
    assert redemption.status == "held"
    growth.h.clock.advance(days=61)
    assert (await growth.balance(other)).level == "l0"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.redeem(other, "lounge")
    assert error_reason(err.value) == "LEVEL_NOT_ELIGIBLE"

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.ops.SetLevelOverride(
            growth_pb2.SetLevelOverrideRequest(
                idempotency_key=key(), customer=cref(other), level="gold", until=ts(growth.h.clock.now())
            )
        )
    assert set(field_violations(err.value)) == {"level", "reason", "operator", "until"}
