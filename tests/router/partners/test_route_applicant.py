"""RouteApplicant with the partner layer: pool decisions carry their lead, in-house and declined ones do
not, in-house overflow is selected after the call, and a retried call makes one lead."""

from __future__ import annotations

from pathlib import Path

from services.router.partners import store
from skylane.router.v1 import leads_pb2, router_pb2
from tests.helpers import DbTarget
from tests.router.partners.helpers import applicant, partner_stack, route_request, sim


async def test_pool_decision_returns_its_lead_and_a_retry_makes_no_second_one(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with partner_stack(db_target, tmp_path, [sim("alpha", bid_fen=2600)]) as stack:
        request = route_request(applicant("tail"))
        first = await stack.router.RouteApplicant(request)
        again = await stack.router.RouteApplicant(request)
        assert first == again
        assert (first.tier, first.destination) == ("tail", router_pb2.DESTINATION_PARTNER_POOL)
        p = first.partner
        assert (p.partner_id, p.price.fen, p.status) == ("alpha", 2600, router_pb2.PARTNER_ROUTING_STATUS_OFFERED)
        assert stack.sims["alpha"].sim.record.ping_calls == 2  # the retry pinged, but recorded nothing new
        await stack.drain()
        assert stack.sims["alpha"].sim.accepted_leads() == [p.lead_id]
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=p.lead_id))
        assert (trace.decision_id, trace.source_channel, trace.config_version) == (
            first.decision_id,
            "ceair_app",
            first.config_version,
        )


async def test_in_house_and_declined_decisions_make_no_lead(db_target: DbTarget, tmp_path: Path) -> None:
    lenders = {"alpha": {"tiers": ["prime", "near_prime", "tail"]}}
    async with partner_stack(db_target, tmp_path, [sim("alpha")], lenders=lenders) as stack:
        prime = await stack.decide(applicant("prime"))
        assert prime.destination == router_pb2.DESTINATION_IN_HOUSE and not prime.HasField("partner")
        declined = await stack.decide(applicant("near_prime", age=70))
        assert declined.destination == router_pb2.DESTINATION_DECLINED and not declined.HasField("partner")
        assert stack.sims["alpha"].sim.record.ping_calls == 0


async def test_in_house_overflow_is_offered_to_partners_after_the_call(db_target: DbTarget, tmp_path: Path) -> None:
    lenders = {"alpha": {"tiers": ["prime", "near_prime", "tail"]}}
    async with partner_stack(db_target, tmp_path, [sim("alpha")], lenders=lenders, router_config={"cap": 1}) as stack:
        assert (await stack.decide(applicant("prime"))).destination == router_pb2.DESTINATION_IN_HOUSE
        overflow = await stack.decide(applicant("prime"))
        assert overflow.destination == router_pb2.DESTINATION_PARTNER_POOL
        assert overflow.partner.status == router_pb2.PARTNER_ROUTING_STATUS_PENDING_SELECTION
        assert stack.sims["alpha"].sim.record.ping_calls == 0  # prime applicants are not pinged in the call
        assert await stack.lead_records.select_pending() == 1
        await stack.drain()
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=overflow.partner.lead_id))
        assert (trace.status, trace.partner_id, trace.tier) == (store.POSTED, "alpha", "prime")
