"""Bad RouteApplicant input: INVALID_ARGUMENT with one violation per bad field, nothing recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget, field_violations
from tests.router.helpers import START, ops, request, router, stub, window


async def _violations(h: object, req: router_pb2.RouteApplicantRequest) -> dict[str, str]:
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub(h).RouteApplicant(req)  # type: ignore[arg-type]
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return field_violations(bad.value)


async def test_each_bad_field_is_named_and_nothing_is_recorded(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path) as h:
        missing_ref = request(1)
        missing_ref.applicant.ref = ""
        assert set(await _violations(h, missing_ref)) == {"applicant.ref"}
        assert set(await _violations(h, request("110101199003078515"))) == {"applicant.ref"}  # raw ID number
        assert set(await _violations(h, request("13812345678"))) == {"applicant.ref"}  # raw phone number
        assert set(await _violations(h, request(1, channel="tiktok"))) == {"channel"}
        assert set(await _violations(h, request(1, scenario="hotel_booking"))) == {"scenario"}
        assert set(await _violations(h, request(1, amount=-1))) == {"requested_amount.fen"}
        assert set(await _violations(h, request(1, age=121))) == {"tags[age]"}
        assert set(await _violations(h, request(1, age=-1))) == {"tags[age]"}
        wrong_type = request(1, tags={"age": router_pb2.TagValue(string_value="thirty")})
        assert "tags[age]" in await _violations(h, wrong_type)
        unknown = request(1, tags={"favourite_colour": router_pb2.TagValue(string_value="blue")})
        assert set(await _violations(h, unknown)) == {"tags[favourite_colour]"}
        no_stamp = request(1)
        no_stamp.consents[0].ClearField("granted_at")
        assert set(await _violations(h, no_stamp)) == {"consents[0].granted_at"}
        phone = request(1)
        phone.phone_hash = "13812345678"
        # Refused by the router's own check ("raw phone numbers are refused") or, first, by the common edge.
        assert set(await _violations(h, phone)) == {"phone_hash"}
        several = request("", channel="nope", amount=-5, age=200)
        several.idempotency_key.value = ""
        assert set(await _violations(h, several)) == {
            "idempotency_key.value",
            "applicant.ref",
            "channel",
            "requested_amount.fen",
            "tags[age]",
        }

        report = await ops(h).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=window(START - timedelta(days=1), START + timedelta(days=1)))
        )
        assert report.total == 0 and report.sticky_repeats == 0
        # A valid request with a proper phone hash goes through.
        ok = request(1)
        ok.phone_hash = "a" * 64
        assert (await stub(h).RouteApplicant(ok)).tier == "prime"
