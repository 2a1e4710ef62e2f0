"""RouteApplicant's tags are typed by the router config: undeclared tags, values outside a categorical set,
numbers out of range are refused naming `tags[name]`; free text is accepted and then dropped (never
recorded). The declarations themselves are checked in unit/test_tag_declarations.py."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget, field_violations
from tests.router.helpers import START, ops, request, router, stub, window

NAME = "张三"
MOBILE = "13812345678"
ID_NUMBER = "110101199003074514"
LEAK = f"{NAME} {MOBILE} {ID_NUMBER}"


def text(value: str) -> router_pb2.TagValue:
    return router_pb2.TagValue(string_value=value)


async def _violations(h: object, req: router_pb2.RouteApplicantRequest) -> dict[str, str]:
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub(h).RouteApplicant(req)  # type: ignore[arg-type]
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return field_violations(bad.value)


async def test_tags_outside_their_declaration_are_refused_naming_the_field(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path) as h:
        # Not declared in this config (the shipped config declares it): refused, not ignored.
        undeclared = await _violations(h, request(1, tags={"asset_tier": text("wealth")}))
        assert set(undeclared) == {"tags[asset_tier]"} and "undeclared" in undeclared["tags[asset_tier]"]
        outside = await _violations(h, request(1, income="very_rich"))
        assert set(outside) == {"tags[income_band]"}
        assert "very_rich" not in outside["tags[income_band]"]  # what was refused is never echoed
        assert set(await _violations(h, request(1, region="CN-99"))) == {"tags[region]"}
        assert set(await _violations(h, request(1, score=1001))) == {"tags[external_credit_score]"}
        fraction = request(1, tags={"age": router_pb2.TagValue(number_value=30.5)})
        assert set(await _violations(h, fraction)) == {"tags[age]"}  # an integer tag takes whole numbers only
        flag = request(1, tags={"existing_customer": text("yes")})
        assert set(await _violations(h, flag)) == {"tags[existing_customer]"}
        too_long = request(1, tags={"note": text("x" * 201)})
        assert set(await _violations(h, too_long)) == {"tags[note]"}

        # The leak: a name, a mobile number and an ID number in `region`.
        leak = await _violations(h, request(1, region=LEAK))
        assert leak and all(path.startswith("tags[region]") for path in leak)
        assert not any(part in message for message in leak.values() for part in (NAME, MOBILE, ID_NUMBER))
        # A name alone is no pattern anyone can recognise; typing refuses it all the same.
        assert set(await _violations(h, request(1, region=NAME))) == {"tags[region]"}

        report = await ops(h).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=window(START - timedelta(days=1), START + timedelta(days=1)))
        )
        assert report.total == 0


async def test_free_text_is_accepted_and_never_recorded(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path) as h:
        decision = await stub(h).RouteApplicant(request(1, income="high", tags={"note": text(f"call {NAME} after 6")}))
        assert decision.tier == "prime"
        recorded = await stub(h).GetDecision(router_pb2.GetDecisionRequest(decision_id=decision.decision_id))
        inputs = json.loads(recorded.inputs_json)
        assert "note" not in inputs["attributes"] and NAME not in recorded.inputs_json
        assert inputs["attributes"]["region"] == "CN-31" and inputs["attributes"]["income_band"] == "high"
