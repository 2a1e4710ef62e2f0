"""Requests the service refuses before doing anything: an unknown campaign or scene, a negative amount."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, field_violations, key
from tests.rewards.helpers import cust, report, rewards_service, stub


async def test_unknown_campaign_and_scene_are_refused(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await s.Offer(
                rewards_pb2.OfferRequest(idempotency_key=key(), customer=cust(1), scene="mall", campaign_id="nope")
            )
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await s.Offer(rewards_pb2.OfferRequest(idempotency_key=key(), customer=cust(1), scene="casino"))
        assert set(field_violations(bad.value)) == {"scene"}
        with pytest.raises(grpc.aio.AioRpcError) as pay:
            await s.RecordPayment(
                rewards_pb2.RecordPaymentRequest(
                    idempotency_key=key(), customer=cust(1), scene="mall", order_id="p1", amount=types_pb2.Money(fen=-5)
                )
            )
        assert set(field_violations(pay.value)) == {"amount.fen"}
        assert (await report(s)).uplift.treated.customers == 0  # nothing recorded
