"""Pending awards: points and growth held pending count for nothing until confirmed (by a call or on timeout)."""

from __future__ import annotations

import grpc
import pytest

from tests.growth.helpers import Client, assert_consistent
from tests.helpers import error_reason


async def test_pending_points_count_for_nothing_until_confirmed(growth: Client) -> None:
    ref = await growth.enroll()
    loan = await growth.record(ref, "loan_drawn")
    assert loan.awards[0].pending and loan.awards[0].hold_id
    bal = await growth.balance(ref)
    assert (bal.points_available, bal.points_pending, bal.growth_total) == (0, 50, 0)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.spend(ref, 10)
    assert error_reason(err.value) == "INSUFFICIENT_POINTS"

    invite = await growth.record(ref, "invite")
    growth.h.clock.advance(days=8)  # the loan's cooling-off ends (confirm); the invite times out (release)
    assert await growth.h.app.maintenance.timeout_holds_once() == 2
    bal = await growth.balance(ref)
    assert (bal.points_available, bal.points_pending, bal.growth_total) == (50, 0, 5)
    statement = await growth.statement(ref)
    assert statement.lots[0].remaining == 50
    kinds = [t.kind for t in statement.history]
    assert kinds[:2] == ["release", "confirm"] or kinds[:2] == ["confirm", "release"]
    assert invite.awards[0].pending

    manual = await growth.record(ref, "loan_drawn")
    confirmed = await growth.confirm(manual.awards[0].hold_id)
    assert confirmed.status == "confirmed" and (await growth.balance(ref)).points_available == 100
    await assert_consistent(growth, ref)
