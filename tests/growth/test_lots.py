"""Point lots: spends draw the soonest-expiring lot first, and expiry takes lots in that same order."""

from __future__ import annotations

from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client, assert_consistent, cref


async def test_spends_draw_soonest_expiring_lots_and_expiry_is_fifo(growth: Client) -> None:
    ref = await growth.enroll()
    await growth.earn(ref, 100)  # lot A expires in 30 days
    growth.h.clock.advance(days=10)
    await growth.earn(ref, 50)  # lot B expires in 40 days
    spend = await growth.spend(ref, 30)
    drawn = [(e.lot_id, e.amount) for e in spend.entries if e.account == "member:available"]
    lots = {lot.original: lot for lot in (await growth.statement(ref)).lots}
    assert drawn == [(lots[100].id, -30)]
    assert (lots[100].remaining, lots[50].remaining) == (70, 50)

    expiries = (await growth.growth.ListExpiries(growth_pb2.ListExpiriesRequest(customer=cref(ref)))).expiries
    assert [e.points for e in expiries] == [70, 50]

    growth.h.clock.advance(days=21)  # A is past its expiry, B is not
    assert await growth.h.app.maintenance.expire_once() == 1
    assert (await growth.balance(ref)).points_available == 50
    statement = await growth.statement(ref)
    assert [(lot.original, lot.remaining) for lot in statement.lots] == [(50, 50)]
    assert statement.history[0].kind == "expire" and statement.history[0].points == -70
    assert "points_expired" in [e.type for e in await growth.events(ref)]
    await assert_consistent(growth, ref)
