"""A config reload changes the next decisions and records the new policy version; a bad file changes nothing."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget, error_reason
from tests.router.helpers import IN_HOUSE, config_text, ops, reload, request, router, stub


async def test_reload_changes_decisions_and_records_the_new_version(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as h:
        before = await stub(h).RouteApplicant(request(1, score=690))
        assert before.tier == "near_prime"
        reloaded = await reload(h, config_text(prime=680, stickiness_hours=0))
        assert reloaded.changed and reloaded.previous_version == before.config_version
        after = await stub(h).RouteApplicant(request(2, score=690))
        assert (after.tier, after.destination) == ("prime", IN_HOUSE)
        assert after.config_version == reloaded.version != before.config_version
        assert after.policy_version != before.policy_version
        recorded = await stub(h).GetDecision(router_pb2.GetDecisionRequest(decision_id=after.decision_id))
        assert recorded.decision.config_version == reloaded.version

        # An invalid edit is refused with the reason; the running policy stays.
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await reload(h, config_text(prime=600, near_prime=650))
        assert error_reason(bad.value) == "CONFIG_INVALID" and "overlaps or is above" in (bad.value.details() or "")
        still = await stub(h).RouteApplicant(request(3, score=690))
        assert (still.tier, still.config_version) == ("prime", reloaded.version)

        listed = await ops(h).ListPolicyVersions(router_pb2.ListPolicyVersionsRequest())
        roles = {v.version: (v.role, v.acted) for v in listed.versions}
        assert roles == {before.policy_version: ("retired", 1), after.policy_version: ("champion", 2)}
        assert [e.action for e in listed.history] == ["file_load", "file_load"]


async def test_a_reload_naming_an_unknown_tier_is_refused_and_the_running_version_stays(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as h:
        before = await stub(h).RouteApplicant(request(1, score=620))
        assert before.tier == "near_prime"
        partners = (
            "partners:\n  lenders:\n"
            "    - {id: alpha, endpoint: '127.0.0.1:1', tiers: [near_prime, subprime], annual_cost_rate: 0.1}\n"
        )
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await reload(h, config_text(prime=680, stickiness_hours=0) + partners)
        assert error_reason(bad.value) == "CONFIG_INVALID"
        assert "partners.lenders.0.tiers: unknown tier 'subprime' (tiers are: prime, near_prime, tail)" in (
            bad.value.details() or ""
        )
        # Neither the partner nor the new prime threshold came in: the running config still decides.
        still = await stub(h).RouteApplicant(request(2, score=690))
        assert (still.tier, still.config_version) == ("near_prime", before.config_version)
