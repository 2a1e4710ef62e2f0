"""Unit tests of the request rules every method is checked against (no server, no database)."""

from __future__ import annotations

import pytest
from google.protobuf import timestamp_pb2

from services.common import request_rules
from services.common.errors import InvalidArgument
from skylane.common.v1 import admin_pb2, types_pb2
from skylane.growth.v1 import growth_pb2
from skylane.rewards.v1 import rewards_pb2
from skylane.router.v1 import leads_pb2, router_pb2


def violations(message: object) -> dict[str, str]:
    try:
        request_rules.check_request(message)
    except InvalidArgument as exc:
        return {v.field: v.description for v in exc.violations}
    return {}


def route(**fields: object) -> router_pb2.RouteApplicantRequest:
    request = router_pb2.RouteApplicantRequest(
        idempotency_key=types_pb2.IdempotencyKey(value="k-1"),
        channel="app",
        applicant=types_pb2.CustomerRef(ref="c0ffee00c0ffee00"),
    )
    for name, value in fields.items():
        setattr(request, name, value)
    return request


def test_a_well_formed_request_passes() -> None:
    request = route()
    request.tags["region"].string_value = "310115"
    request.consents.add().granted_at.GetCurrentTime()
    assert violations(request) == {}


@pytest.mark.parametrize(
    ("seconds", "nanos", "bad"),
    [
        (0, -1, "nanos"),
        (0, 1_000_000_000, "nanos"),
        (request_rules.TIMESTAMP_MAX_SECONDS + 1, 0, "seconds"),
        (request_rules.TIMESTAMP_MIN_SECONDS - 1, 0, "seconds"),
    ],
)
def test_timestamps_out_of_range_are_named(seconds: int, nanos: int, bad: str) -> None:
    request = route()
    request.consents.add().granted_at.CopyFrom(timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos))
    assert set(violations(request)) == {f"consents[0].granted_at.{bad}"}


def test_control_characters_and_length() -> None:
    assert set(violations(route(channel="app\x00"))) == {"channel"}
    assert set(violations(route(channel="a" * 129))) == {"channel"}
    assert set(violations(route(channel="app\n"))) == {"channel"}
    request = route()
    request.tags["region"].string_value = "上海\u202e"  # a bidi override: a format character
    assert set(violations(request)) == {"tags[region].string_value"}


def test_personal_numbers_are_refused_where_not_made_for_them() -> None:
    request = route()
    request.tags["region"].string_value = "张三 13812345678 110101199003074514"
    assert "mobile" in violations(request)["tags[region].string_value"]
    assert set(violations(route(channel="13812345678"))) == {"channel"}
    assert set(violations(route(phone_hash="13812345678"))) == {"phone_hash"}
    # An opaque id is refused only when it is a personal number as a whole.
    assert violations(route(phone_hash="h-13812345678-9f")) == {}


def test_names_are_refused_in_fields_that_are_not_free_text() -> None:
    assert set(violations(route(channel="张三"))) == {"channel"}
    note = growth_pb2.SpendPointsRequest(reason="张三")
    assert set(violations(note)) == {"reason"}


def test_unknown_enum_numbers_and_huge_lists() -> None:
    request = rewards_pb2.OfferRequest()
    request.profile.payment_interests.extend(["travel"] * (request_rules.MAX_REPEATED + 1))
    assert set(violations(request)) == {"profile.payment_interests"}
    enum_fields = [
        (message, field)
        for message in (router_pb2.SetCandidateRequest, leads_pb2.ReportLeadOutcomeRequest)
        for field in message.DESCRIPTOR.fields
        if field.enum_type is not None and not field.is_repeated
    ]
    assert enum_fields, "the protos have enum fields to try"
    for message_type, field in enum_fields:
        message = message_type()
        setattr(message, field.name, 9999)
        assert set(violations(message)) == {field.name}


def test_documents_may_hold_newlines_but_not_nul() -> None:
    assert violations(admin_pb2.ValidateConfigRequest(yaml="a: 1\n\tb: 2\n")) == {}
    assert set(violations(admin_pb2.ValidateConfigRequest(yaml="a: 1\x00"))) == {"yaml"}


def test_opaque_fields_are_listed() -> None:
    assert "IdempotencyKey.value" in request_rules.OPAQUE_FIELDS and "order_id" in request_rules.OPAQUE_FIELDS


def test_amounts_and_counts_are_bounded_so_running_sums_cannot_overflow() -> None:
    payment = rewards_pb2.RecordPaymentRequest()
    payment.amount.fen = request_rules.MAX_FEN + 1
    assert set(violations(payment)) == {"amount.fen"}
    payment.amount.fen = request_rules.MAX_FEN
    assert violations(payment) == {}
    spend = growth_pb2.SpendPointsRequest(points=2**63 - 1)
    assert set(violations(spend)) == {"points"}


def test_a_map_entry_is_named_by_its_key_only_where_the_key_is_safe_to_echo() -> None:
    request = route()
    request.tags["region"].string_value = "上海\u202e"
    request.tags["13812345678"].string_value = "ok"  # a mobile number as a key: refused, and never echoed
    request.tags["age"].int_value = 30
    found = violations(request)
    assert set(found) == {"tags[region].string_value", "tags[…].key"}
    assert "mobile" in found["tags[…].key"]
    # Entries that pass leave nothing behind; the other fields are still checked beside them.
    assert set(violations(route(channel="app\x00"))) == {"channel"}
    beside = route(channel="app\x00")
    beside.tags["age"].int_value = 30
    beside.tags["region"].string_value = "310115"
    assert set(violations(beside)) == {"channel"}
