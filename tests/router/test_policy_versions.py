"""Policy versions: rolling back to the previous champion and activating a known version by ops RPC."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget, key
from tests.router.helpers import POOL, config_text, ops, reload, request, router, stub


async def test_activate_and_rollback_policy_versions(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as h:
        old = (await stub(h).RouteApplicant(request(1, score=690))).policy_version
        await reload(h, config_text(prime=680, stickiness_hours=0))
        new = (await stub(h).RouteApplicant(request(2, score=690))).policy_version

        rolled = await ops(h).RollbackPolicy(router_pb2.RollbackPolicyRequest(idempotency_key=key("rb-1")))
        assert rolled.champion_version == old
        decision = await stub(h).RouteApplicant(request(3, score=690))
        assert (decision.tier, decision.destination, decision.policy_version) == ("near_prime", POOL, old)
        # The same key again is the same rollback, not a second one.
        again = await ops(h).RollbackPolicy(router_pb2.RollbackPolicyRequest(idempotency_key=key("rb-1")))
        assert again == rolled

        activated = await ops(h).ActivatePolicyVersion(
            router_pb2.ActivatePolicyVersionRequest(idempotency_key=key(), version=new)
        )
        assert activated.champion_version == new
        assert (await stub(h).RouteApplicant(request(4, score=690))).tier == "prime"

        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await ops(h).ActivatePolicyVersion(
                router_pb2.ActivatePolicyVersionRequest(idempotency_key=key(), version="000000000000")
            )
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        history = (await ops(h).ListPolicyVersions(router_pb2.ListPolicyVersionsRequest())).history
        assert [e.action for e in history] == ["activate", "rollback", "file_load", "file_load"]
