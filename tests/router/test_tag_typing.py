"""Tags are typed by the router config: undeclared tags, values outside a categorical set, numbers out of
range are refused naming `tags[name]`; free text is accepted and then dropped (never recorded)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from services.common.config import ConfigError, parse_document
from services.router.config import RouterConfig
from services.router.domain.tags import catalogue
from skylane.router.v1 import router_pb2
from tests.router.helpers import START, config_text, ops, request, router, stub, window
from tests.support import DbTarget, field_violations

REPO = Path(__file__).resolve().parents[2]
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


def errors_of(text_: str) -> str:
    with pytest.raises(ConfigError) as bad:
        parse_document(text_, RouterConfig, "<test>")
    return "; ".join(bad.value.errors)


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


def test_the_shipped_config_types_every_tag() -> None:
    loaded = parse_document((REPO / "config" / "router.yaml").read_text(), RouterConfig, "config/router.yaml")
    tags = catalogue(loaded.model.tag_specs())
    region = tags["region"]
    assert region.kind == "categorical"
    assert region.accepts("310000") and region.accepts("110101")
    for bad in (ID_NUMBER, MOBILE, "31000", "990000", NAME, LEAK, "310000 "):
        assert not region.accepts(bad), bad
    assert tags["income_band"].accepts("high") and not tags["income_band"].accepts(NAME)
    assert (tags["age"].kind, tags["age"].minimum, tags["age"].maximum) == ("number", 0, 120)
    assert tags["existing_customer"].kind == "boolean"


def test_declarations_are_checked_at_load() -> None:
    base = config_text()
    assert "extra_tags was replaced by `tags`" in errors_of(base + "extra_tags: {nickname: string}\n")
    loose = base.replace("{type: categorical, values: [CN-11, CN-31, CN-44, CN-65]}", "{type: categorical}")
    assert "declares its `values`, a `pattern`, or both" in errors_of(loose)
    named = base.replace("[CN-11, CN-31, CN-44, CN-65]", f"[CN-31, {NAME}]")
    assert "are not codes" in errors_of(named)
    off_pattern = base.replace("values: [CN-11, CN-31, CN-44, CN-65]", "values: ['31000', '310000'], pattern: '\\d{6}'")
    assert "['31000'] are not codes" in errors_of(off_pattern)
    backwards = base.replace("min: 0, max: 120", "min: 120, max: 0")
    assert "min must not exceed max" in errors_of(backwards)
    shadowing = base.replace("  note: {type: free_text", "  channel: {type: free_text")
    assert "must be lower-case identifiers other than" in errors_of(shadowing)


def test_conditions_must_fit_the_declarations() -> None:
    base = config_text()
    on_free_text = base.replace("attribute: income_band, op: eq, value: none", "attribute: note, op: exists")
    assert "'note' is free text" in errors_of(on_free_text)
    undeclared_value = base.replace("{op: eq, value: high, points: 50}", "{op: eq, value: rich, points: 50}")
    assert "'rich' is not a declared value of 'income_band'" in errors_of(undeclared_value)
    in_list = base.replace("{op: eq, value: high, points: 50}", "{op: in, value: [high, rich], points: 50}")
    assert "['rich'] are not declared values of 'income_band'" in errors_of(in_list)
    blocked = base.replace("blocked_regions: [CN-65]", "blocked_regions: [CN-XX-BLOCKED]")
    assert "regions ['CN-XX-BLOCKED'] are not declared values of 'region'" in errors_of(blocked)
    partner = base + (
        "partners:\n  lenders:\n    - {id: p1, endpoint: '127.0.0.1:1', token: t, tiers: [tail],"
        " annual_cost_rate: 0.1, eligibility: {regions: [CN-31, Shanghai]}}\n"
    )
    assert "partners.lenders: regions ['Shanghai'] are not declared values" in errors_of(partner)
