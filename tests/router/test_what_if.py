"""What-if replays recorded traffic under a candidate: numbers match a hand-computed example."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget, field_violations
from tests.router.helpers import IN_HOUSE, POOL, START, config_text, ops, request, router, stub, window
from tests.router.test_routing_report import EDGE_WINDOWS, NO_LOCAL_DAY


async def test_what_if_matches_a_hand_computed_example(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as h:
        route = stub(h).RouteApplicant
        await route(request(99, score=690))  # before the window: not replayed
        h.clock.advance(hours=1)
        ids = {}
        for name, score in [("a", 720), ("b", 690), ("c", 685), ("d", 620), ("e", 550), ("f", 480)]:
            ids[name] = (await route(request(name + "-applicant", score=score))).decision_id
            h.clock.advance(minutes=1)
        report_before = await ops(h).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=window(START, START + timedelta(days=1)))
        )

        # Candidate: prime from 680, near_prime from 640, in-house cap 2 a day. By hand, oldest first:
        #   a 720 prime → in-house (slot 1)        unchanged
        #   b 690 near_prime/pool → prime in-house (slot 2)   changed
        #   c 685 near_prime/pool → prime, cap used up → pool  changed (tier)
        #   d 620 near_prime → tail, pool           changed (tier)
        #   e 550 tail, f 480 declined              unchanged
        candidate = config_text(prime=680, near_prime=640, cap=2)
        result = await ops(h).WhatIf(
            router_pb2.WhatIfRequest(
                window=window(START + timedelta(minutes=30), START + timedelta(hours=2)), config_yaml=candidate
            )
        )
        assert result.replayed == 6 and result.changed == 3
        assert dict(result.before.by_tier) == {"prime": 1, "near_prime": 3, "tail": 1, "declined": 1}
        assert dict(result.after.by_tier) == {"prime": 3, "tail": 2, "declined": 1}
        assert dict(result.before.by_destination) == {"IN_HOUSE": 1, "PARTNER_POOL": 4, "DECLINED": 1}
        assert dict(result.after.by_destination) == {"IN_HOUSE": 2, "PARTNER_POOL": 3, "DECLINED": 1}
        samples = [
            (s.decision_id, s.tier_before, s.tier_after, s.destination_before, s.destination_after)
            for s in result.samples
        ]
        assert samples == [
            (ids["b"], "near_prime", "prime", POOL, IN_HOUSE),
            (ids["c"], "near_prime", "prime", POOL, POOL),
            (ids["d"], "near_prime", "tail", POOL, POOL),
        ]
        assert [r.code for r in result.samples[1].reasons_after] == ["TIER_PRIME", "IN_HOUSE_CAPACITY_EXHAUSTED"]
        limited = await ops(h).WhatIf(
            router_pb2.WhatIfRequest(
                window=window(START + timedelta(minutes=30), START + timedelta(hours=2)),
                config_yaml=candidate,
                max_samples=1,
            )
        )
        assert limited.changed == 3 and len(limited.samples) == 1

        # Nothing live moved: same counts, same capacity, same champion.
        report_after = await ops(h).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=window(START, START + timedelta(days=1)))
        )
        assert report_after == report_before
        assert (await route(request("g-applicant", score=690))).tier == "near_prime"

        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await ops(h).WhatIf(router_pb2.WhatIfRequest(config_yaml=candidate))
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_what_if_refuses_the_windows_the_routing_report_refuses(db_target: DbTarget, tmp_path: Path) -> None:
    """Both take the same TimeWindow; one that has no local day in some time zone is refused by both."""
    async with router(db_target, tmp_path) as h:
        candidate = config_text(prime=680)
        for (start, end), fields in NO_LOCAL_DAY:
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await ops(h).WhatIf(router_pb2.WhatIfRequest(window=window(start, end), config_yaml=candidate))
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (start, end)
            assert set(field_violations(bad.value)) == fields, (start, end)
        for start, end in EDGE_WINDOWS:
            result = await ops(h).WhatIf(router_pb2.WhatIfRequest(window=window(start, end), config_yaml=candidate))
            assert result.replayed == 0


async def test_what_if_cli_prints_the_mix(
    db_target: DbTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import main

    async with router(db_target, tmp_path, stickiness_hours=0) as h:
        await stub(h).RouteApplicant(request(1, score=690))
        candidate = tmp_path / "candidate.yaml"
        candidate.write_text(config_text(prime=680), encoding="utf-8")
        code = await asyncio.to_thread(
            main,
            [
                "router", "what-if", "--address", h.service.address, "--candidate", str(candidate),
                "--since", "2026-01-05T00:00:00+00:00", "--until", "2026-01-06T00:00:00+00:00",
            ],
        )  # fmt: skip
        assert code == 0
        out = capsys.readouterr().out
        assert "replayed 1" in out and "changed 1" in out and "near_prime → prime" in out
