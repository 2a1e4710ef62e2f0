"""Config validation at load, reload changing decisions, and policy version activation / rollback."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from services.common.config import ConfigError, parse_document
from services.router.config import RouterConfig
from skylane.router.v1 import router_pb2
from tests.router.helpers import IN_HOUSE, POOL, config_text, ops, reload, request, router, stub
from tests.support import DbTarget, error_reason, key

REPO = Path(__file__).resolve().parents[2]


def errors_of(text: str) -> str:
    with pytest.raises(ConfigError) as bad:
        parse_document(text, RouterConfig, "<test>")
    return "; ".join(bad.value.errors)


def test_default_config_loads() -> None:
    loaded = parse_document((REPO / "config" / "router.yaml").read_text(), RouterConfig, "config/router.yaml")
    assert [t.name for t in loaded.model.policy.tiers] == ["prime", "near_prime", "tail"]
    assert len(loaded.model.channels) >= 3


def test_unordered_or_overlapping_thresholds_are_refused_with_the_reason() -> None:
    assert "near_prime (700) overlaps or is above prime (700)" in errors_of(config_text(prime=700, near_prime=700))
    assert "near_prime (720) overlaps or is above prime (700)" in errors_of(config_text(prime=700, near_prime=720))


def test_unknown_attribute_or_operator_is_refused_at_load() -> None:
    text = config_text().replace("attribute: income_band, op: eq", "attribute: incme_band, op: eq")
    assert "unknown attribute 'incme_band'" in errors_of(text)
    text = config_text().replace("{op: eq, value: high, points: 50}", "{op: like, value: high, points: 50}")
    assert "unknown operator 'like'" in errors_of(text)
    text = config_text().replace("{op: eq, value: high, points: 50}", "{op: gt, value: high, points: 50}")
    assert "needs a numeric attribute" in errors_of(text)


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
