"""Bad input is refused field by field, an unknown member or hold by name, and nothing changes."""

from __future__ import annotations

from datetime import timedelta

import grpc
import pytest

from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client, assert_consistent, cref
from tests.helpers import error_reason, field_violations


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
    await assert_consistent(growth, ref)
