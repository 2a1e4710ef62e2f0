"""Maintenance passes: expiry warnings once per lot, and RunMaintenance under an idempotency key."""

from __future__ import annotations

import grpc
import pytest

from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client
from tests.helpers import field_violations, key


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
