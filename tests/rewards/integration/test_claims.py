"""Claim on real servers: the claims per customer, and an offer claimed twice or by someone else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, error_reason
from tests.rewards.helpers import claim, offer, rewards_service, stub


async def test_claim_limit_and_double_claim(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path, claims=1) as h:
        s = stub(h)
        first = await offer(s, 1)
        await claim(s, 1, first.offer_id)
        with pytest.raises(grpc.aio.AioRpcError) as twice:
            await claim(s, 1, first.offer_id)
        assert error_reason(twice.value) == "OFFER_ALREADY_CLAIMED"
        again = await offer(s, 1)
        assert (again.outcome, again.reason) == (rewards_pb2.NOT_OFFERED, "CLAIM_LIMIT")
        h.clock.advance(timedelta(hours=1))
        with pytest.raises(grpc.aio.AioRpcError) as stranger:
            await claim(s, 2, first.offer_id)
        assert error_reason(stranger.value) == "OFFER_NOT_OWNED"
