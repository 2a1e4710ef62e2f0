"""Shadow mode records both decisions and acts on one; bucketed rollout stays stable as the share grows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget, key
from tests.router.helpers import IN_HOUSE, POOL, START, config_text, ops, request, router, stub, window


async def test_shadow_records_both_decisions_while_acting_on_the_champion(db_target: DbTarget, tmp_path: Path) -> None:
    candidate = {"mode": "shadow", "policy": {"prime": 680}}
    async with router(db_target, tmp_path, stickiness_hours=0, candidate=candidate) as h:
        live = await stub(h).RouteApplicant(request(1, score=690))
        assert (live.tier, live.destination, live.arm) == ("near_prime", POOL, router_pb2.POLICY_ARM_CHAMPION)
        recorded = await stub(h).GetDecision(router_pb2.GetDecisionRequest(decision_id=live.decision_id))
        shadow = recorded.shadow
        assert (shadow.tier, shadow.destination, shadow.arm) == ("prime", IN_HOUSE, router_pb2.POLICY_ARM_CANDIDATE)
        assert shadow.policy_version != live.policy_version

        agreeing = await stub(h).RouteApplicant(request(2, score=720))
        assert agreeing.destination == IN_HOUSE
        # The shadow never consumed capacity: only the acting decision did.
        report = await ops(h).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=window(START, START + timedelta(days=1)))
        )
        assert [c.used for c in report.capacity] == [1] and report.total == 2

        listed = await ops(h).ListPolicyVersions(router_pb2.ListPolicyVersionsRequest())
        by_role = {v.role: v for v in listed.versions}
        assert (by_role["champion"].acted, by_role["champion"].shadowed) == (2, 0)
        assert (by_role["candidate"].acted, by_role["candidate"].shadowed, by_role["candidate"].agreed) == (0, 2, 1)
        assert by_role["candidate"].agreement == 0.5
        assert listed.state.mode == router_pb2.CANDIDATE_MODE_SHADOW


async def test_rollout_share_is_stable_and_growing_it_only_adds_applicants(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as h:
        candidate_yaml = config_text(prime=680, stickiness_hours=0)

        async def arms_at(share: float) -> set[int]:
            await ops(h).SetCandidate(
                router_pb2.SetCandidateRequest(
                    idempotency_key=key(),
                    config_yaml=candidate_yaml,
                    mode=router_pb2.CANDIDATE_MODE_ROLLOUT,
                    share=share,
                )
            )
            on_candidate = set()
            for n in range(60):
                d = await stub(h).RouteApplicant(request(n, score=690))
                # The arm that acts decides: the candidate calls 690 prime, the champion near_prime.
                assert (d.arm == router_pb2.POLICY_ARM_CANDIDATE) == (d.tier == "prime")
                if d.arm == router_pb2.POLICY_ARM_CANDIDATE:
                    on_candidate.add(n)
                h.clock.advance(hours=25)  # keep velocity windows empty between rounds
            return on_candidate

        small = await arms_at(0.2)
        again = await arms_at(0.2)
        large = await arms_at(0.6)
        assert small == again
        assert small < large
        assert 3 <= len(small) <= 25 and 20 <= len(large) <= 50

        state = await ops(h).SetCandidate(
            router_pb2.SetCandidateRequest(idempotency_key=key(), mode=router_pb2.CANDIDATE_MODE_UNSPECIFIED)
        )
        assert state.candidate_version == ""
        d = await stub(h).RouteApplicant(request(min(large), score=690))
        assert (d.arm, d.tier) == (router_pb2.POLICY_ARM_CHAMPION, "near_prime")
