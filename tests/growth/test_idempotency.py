"""Retries are safe: a replayed idempotency key answers the stored response, a replayed event awards
nothing new, and a key reused for a different request is refused."""

from __future__ import annotations

import grpc
import pytest

from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client, assert_consistent, cref
from tests.helpers import key


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
    await assert_consistent(growth, ref)
