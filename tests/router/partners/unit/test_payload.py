"""The MaskedApplicant a partner receives: exactly the allow-listed fields, each from its closed set."""

from __future__ import annotations

from dataclasses import replace

from services.router.partners.payload import AGE_BANDS, PARTNER_FIELDS, partner_payload
from services.router.partners.service.desk import mask
from skylane.partner.v1 import partner_pb2
from tests.router.partners.helpers import applicant

NAME = "张三"
MOBILE = "13812345678"
ID_NUMBER = "110101199003074514"
PERSONAL = (NAME, MOBILE, ID_NUMBER)


def test_the_allow_list_is_every_field_a_partner_can_receive() -> None:
    # A field added to MaskedApplicant stays empty until someone adds it to PARTNER_FIELDS, deliberately.
    assert set(PARTNER_FIELDS) == {f.name for f in partner_pb2.MaskedApplicant.DESCRIPTOR.fields}
    payload = partner_payload(applicant("near_prime", age=30))
    assert (payload.tier, payload.score_band, payload.age_band, payload.region) == (
        "near_prime",
        "600-649",
        "25-34",
        "CN-31",
    )
    assert payload.age_band in AGE_BANDS and payload.requested_amount.fen == 2_000_000


def test_values_outside_their_closed_set_never_reach_the_payload() -> None:
    hostile = replace(
        applicant("tail"), region=f"{NAME} {MOBILE} {ID_NUMBER}", phone_hash=MOBILE, tier=NAME, term_months=10**6
    )
    payload = partner_payload(hostile)
    assert (payload.region, payload.phone_hash, payload.tier, payload.term_months) == ("", "", "", 0)
    assert not any(p.encode() in payload.SerializeToString() for p in PERSONAL)


def test_the_desk_sends_what_the_payload_allows() -> None:
    a = applicant("near_prime")
    assert mask(a) == partner_payload(a)
