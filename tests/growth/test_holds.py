"""Two-phase spends: a hold is confirmed, released or times out, once."""

from __future__ import annotations

import grpc
import pytest

from tests.growth.helpers import Client, assert_consistent
from tests.helpers import error_reason


async def test_holds_confirm_release_and_time_out(growth: Client) -> None:
    ref = await growth.enroll()
    await growth.earn(ref, 100)
    hold = await growth.hold(ref, 40)
    bal = await growth.balance(ref)
    assert (bal.points_available, bal.points_held) == (60, 40)
    assert (await growth.confirm(hold.id)).status == "confirmed"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.release(hold.id)
    assert error_reason(err.value) == "HOLD_CONFIRMED"

    second = await growth.hold(ref, 10)
    assert (await growth.release(second.id)).status == "released"
    bal = await growth.balance(ref)
    assert (bal.points_available, bal.points_held) == (60, 0)

    third = await growth.hold(ref, 25, ttl=60)
    growth.h.clock.advance(seconds=61)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.confirm(third.id)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(err.value) == "HOLD_EXPIRED"
    assert (await growth.balance(ref)).points_held == 25  # refused: nothing changed
    assert await growth.h.app.maintenance.timeout_holds_once() == 1
    bal = await growth.balance(ref)
    assert (bal.points_available, bal.points_held) == (60, 0)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.confirm(third.id)
    assert error_reason(err.value) == "HOLD_EXPIRED"
    await assert_consistent(growth, ref)
