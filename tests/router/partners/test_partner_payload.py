"""Personal data in a RouteApplicant request never reaches a partner: put into a free-text tag it reaches
neither the posted lead, the partner_leads row nor the decision's recorded inputs; put into a categorical
tag it is refused before any lead. (The payload's allow-list itself: unit/test_payload.py.)"""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from sqlalchemy import select

from services.router.partners.models import PartnerLead
from services.router.partners.payload import partner_payload
from skylane.partner.v1 import partner_pb2
from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget
from tests.router.partners.helpers import Stack, applicant, partner_stack, route_request, sim

NAME = "张三"
MOBILE = "13812345678"
ID_NUMBER = "110101199003074514"
PERSONAL = (NAME, MOBILE, ID_NUMBER)


def _route_request(stack: Stack, note: str) -> router_pb2.RouteApplicantRequest:
    request = route_request(applicant("near_prime"))
    request.tags["note"].string_value = note
    request.tags["income_band"].string_value = "middle"
    return request


async def _lead_row_text(stack: Stack, lead_id: str) -> tuple[str, partner_pb2.MaskedApplicant]:
    async with stack.app.db.read_entities() as session:
        row = (await session.execute(select(PartnerLead).where(PartnerLead.lead_id == lead_id))).scalar_one()
    columns = {c.key: getattr(row, c.key) for c in PartnerLead.__mapper__.column_attrs}
    masked = partner_pb2.MaskedApplicant.FromString(base64.b64decode(row.masked_applicant))
    return repr(columns), masked


async def _assert_nothing_personal_leaves(stack: Stack, decision: router_pb2.RoutingDecision) -> None:
    assert decision.destination == router_pb2.DESTINATION_PARTNER_POOL and decision.partner.partner_id == "alpha"
    lead_id = decision.partner.lead_id
    await stack.drain()
    posted = stack.sims["alpha"].sim.record.post_requests[lead_id]
    assert posted.applicant.region == "CN-31" and posted.applicant.tier == "near_prime"
    row_text, masked = await _lead_row_text(stack, lead_id)
    assert masked == posted.applicant == partner_payload(replace(applicant("near_prime"), phone_hash=""))
    recorded = await stack.router.GetDecision(router_pb2.GetDecisionRequest(decision_id=decision.decision_id))
    for part in PERSONAL:
        assert part.encode() not in posted.SerializeToString(), part
        assert part not in str(posted) and part not in row_text, part
        assert part not in recorded.inputs_json, part
    assert '"note"' not in recorded.inputs_json and "note" not in row_text


async def test_free_text_never_reaches_the_partner_the_lead_or_the_inputs(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(db_target, tmp_path, [sim("alpha", bid_fen=4000)]) as stack:
        # A name passes any pattern check; the free-text tag takes it and the router drops it.
        request = _route_request(stack, f"ask for {NAME}")
        request.phone_hash = ""
        await _assert_nothing_personal_leaves(stack, await stack.router.RouteApplicant(request))

        # Name, mobile and ID number together: refused at the common edge, or accepted and dropped likewise.
        request = _route_request(stack, f"{NAME} {MOBILE} {ID_NUMBER}")
        request.phone_hash = ""
        try:
            decision = await stack.router.RouteApplicant(request)
        except grpc.aio.AioRpcError as refused:
            assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert not any(part in (refused.details() or "") for part in PERSONAL)
        else:
            await _assert_nothing_personal_leaves(stack, decision)


async def test_the_leak_in_a_categorical_tag_is_refused_before_any_lead(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(db_target, tmp_path, [sim("alpha")]) as stack:
        request = route_request(replace(applicant("near_prime"), region=f"{NAME} {MOBILE} {ID_NUMBER}"))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stack.router.RouteApplicant(request)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert stack.sims["alpha"].sim.record.ping_calls == 0
        async with stack.app.db.read_entities() as session:
            assert (await session.execute(select(PartnerLead))).first() is None
