"""Ledger behaviour over real gRPC: idempotency, FIFO lots, expiry, reversals, holds, pending points."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client, config, cref, ledger_sums, member_consistency
from tests.support import error_reason, field_violations, key


async def _assert_consistent(growth: Client, ref: str) -> None:
    assert set((await ledger_sums(growth.h)).values()) <= {0}
    available, lots, entries, held_gap = await member_consistency(growth.h, ref)
    assert available == lots == entries
    assert held_gap == 0


async def test_replayed_idempotency_key_and_event_change_nothing(growth: Client) -> None:
    ref = await growth.enroll()
    request = growth.activity_request(ref, "earn", event_id="pay-1", points=40)
    first = await growth.growth.RecordActivity(request)
    again = await growth.growth.RecordActivity(request)  # same key: the stored first response
    assert again == first and not first.duplicate

    request.idempotency_key.CopyFrom(key())  # same event under a new key: recognised, awards nothing new
    replay = await growth.growth.RecordActivity(request)
    assert replay.duplicate and list(replay.awards) == list(first.awards)
    assert (await growth.balance(ref)).points_available == 40

    request.activity.attributes["points"] = "41"  # same key, different request: refused
    request.idempotency_key.CopyFrom(first_key := key())
    await growth.growth.RecordActivity(growth.activity_request(ref, "earn", event_id="pay-2", points=1))
    spend = growth_pb2.SpendPointsRequest(idempotency_key=first_key, customer=cref(ref), points=5)
    await growth.growth.SpendPoints(spend)
    await growth.growth.SpendPoints(spend)
    spend.points = 6
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.growth.SpendPoints(spend)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert (await growth.balance(ref)).points_available == 36
    await _assert_consistent(growth, ref)


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
    await _assert_consistent(growth, ref)


async def test_reversing_a_spend_restores_exactly_the_lots_it_drew(growth: Client) -> None:
    ref = await growth.enroll()
    await growth.earn(ref, 100)
    growth.h.clock.advance(days=5)
    await growth.earn(ref, 100)
    spend = await growth.spend(ref, 150)
    growth.h.clock.advance(days=1)
    await growth.earn(ref, 100)  # lot C: must be untouched by the reversal
    before = {lot.id: lot.remaining for lot in (await growth.statement(ref)).lots}
    assert sorted(before.values()) == [50, 100]

    reversal = await growth.reverse(spend.id)
    assert reversal.reverses == spend.id and reversal.operator == "ops_alice"
    restored = {e.lot_id: e.amount for e in reversal.entries if e.account == "member:available"}
    drawn = {e.lot_id: -e.amount for e in spend.entries if e.account == "member:available"}
    assert restored == drawn
    assert sorted(lot.remaining for lot in (await growth.statement(ref)).lots) == [100, 100, 100]

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.reverse(spend.id)
    assert error_reason(err.value) == "ALREADY_REVERSED"
    await _assert_consistent(growth, ref)


async def test_clawback_drives_balance_negative_and_future_earnings_repay(growth: Client) -> None:
    ref = await growth.enroll()
    earned = await growth.earn(ref, 100)
    await growth.spend(ref, 80)
    await growth.reverse(earned)
    assert (await growth.balance(ref)).points_available == -80
    await growth.earn(ref, 50)
    assert (await growth.balance(ref)).points_available == -30
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.spend(ref, 1)
    assert error_reason(err.value) == "INSUFFICIENT_POINTS"
    await growth.earn(ref, 40)
    assert (await growth.balance(ref)).points_available == 10
    await _assert_consistent(growth, ref)


async def test_refuse_policy_refuses_reversal_of_spent_points(growth: Client) -> None:
    growth.h.write_config(config("refuse"))
    growth.h.app.config.reload()
    ref = await growth.enroll()
    earned = await growth.earn(ref, 100)
    await growth.spend(ref, 80)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.reverse(earned)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_reason(err.value) == "POINTS_ALREADY_SPENT"
    assert (await growth.balance(ref)).points_available == 20
    other = await growth.earn(ref, 100)
    await growth.reverse(other)  # covered by the balance: allowed
    assert (await growth.balance(ref)).points_available == 20
    await _assert_consistent(growth, ref)


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
    await _assert_consistent(growth, ref)


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
    await _assert_consistent(growth, ref)


async def test_expiry_warning_event_is_emitted_once_before_points_expire(growth: Client) -> None:
    ref = await growth.enroll()
    await growth.earn(ref, 70)
    assert await growth.h.app.maintenance.warn_once() == 0
    growth.h.clock.advance(days=26)  # 4 days left, warning window is 5 days
    assert await growth.h.app.maintenance.warn_once() == 1
    assert await growth.h.app.maintenance.warn_once() == 0
    events = [e for e in await growth.events(ref) if e.type == "points_expiring"]
    assert len(events) == 1 and events[0].data["points"] == "70"
    done = await growth.ops.RunMaintenance(growth_pb2.RunMaintenanceRequest(idempotency_key=key()))
    assert done.lots_expired == 0
    growth.h.clock.advance(days=5)
    done = await growth.ops.RunMaintenance(growth_pb2.RunMaintenanceRequest(idempotency_key=key()))
    assert done.lots_expired == 1 and (await growth.balance(ref)).points_available == 0


async def test_run_maintenance_needs_a_key_and_a_retry_answers_the_first_pass(growth: Client) -> None:
    ref = await growth.enroll()
    await growth.earn(ref, 70)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.ops.RunMaintenance(growth_pb2.RunMaintenanceRequest())
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(err.value)) == {"idempotency_key.value"}
    growth.h.clock.advance(days=31)
    request = growth_pb2.RunMaintenanceRequest(idempotency_key=key())
    assert (await growth.ops.RunMaintenance(request)).lots_expired == 1
    await growth.earn(ref, 5)
    growth.h.clock.advance(days=31)  # the new lot is due too, but a retry must not run another pass
    assert (await growth.ops.RunMaintenance(request)).lots_expired == 1
    assert (await growth.balance(ref)).points_available == 5
    fresh = await growth.ops.RunMaintenance(growth_pb2.RunMaintenanceRequest(idempotency_key=key()))
    assert fresh.lots_expired == 1 and (await growth.balance(ref)).points_available == 0


async def test_statement_pages_history_with_provenance(growth: Client) -> None:
    ref = await growth.enroll()
    for points in (1, 2, 3, 4, 5):
        await growth.earn(ref, points)
    page1 = await growth.statement(ref, page_size=2)
    assert [t.points for t in page1.history] == [5, 4]
    assert page1.history[0].task_id == "earn" and page1.history[0].event_source == "test"
    assert page1.history[0].config_version == growth.h.app.config.current.version
    assert sum(e.amount for e in page1.history[0].entries) == 0
    page2 = await growth.growth.GetStatement(
        growth_pb2.GetStatementRequest(
            customer=cref(ref), page={"page_size": 2, "page_token": page1.page.next_page_token}
        )
    )
    assert [t.points for t in page2.history] == [3, 2]
    assert page1.balance.points_available == 15 and len(page1.lots) == 5


async def test_bad_input_is_refused_field_by_field_and_changes_nothing(growth: Client) -> None:
    ref = await growth.enroll()
    await growth.earn(ref, 10)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.record("cust_unknown_member", "earn", points=5)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and error_reason(err.value) == "MEMBER_NOT_FOUND"

    request = growth.activity_request(ref, "no_such_event", at=growth.h.clock.now() + timedelta(hours=1))
    request.activity.source = ""
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.growth.RecordActivity(request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(err.value)) == {"activity.type", "activity.occurred_at", "activity.source"}

    for points in (0, -5):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await growth.spend(ref, points)
        assert set(field_violations(err.value)) == {"points"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.growth.SpendPoints(growth_pb2.SpendPointsRequest(customer=cref("13800138000"), points=1))
    # A raw phone number is refused at the edge, before the handler looks for the missing key.
    assert set(field_violations(err.value)) == {"customer.ref"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.spend(ref, 11)
    assert error_reason(err.value) == "INSUFFICIENT_POINTS"
    assert (await growth.balance(ref)).points_available == 10
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await growth.confirm("nosuchhold")
    assert err.value.code() == grpc.StatusCode.NOT_FOUND and error_reason(err.value) == "HOLD_NOT_FOUND"
    await _assert_consistent(growth, ref)
