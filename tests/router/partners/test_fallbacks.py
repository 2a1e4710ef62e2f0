"""A rejected post goes to the next bidder while the offer window is open; after it, the lead is unsold."""

from __future__ import annotations

from pathlib import Path

from services.router.partners import store
from skylane.router.v1 import leads_pb2
from tests.helpers import DbTarget
from tests.router.partners.helpers import applicant, partner_stack, sim


async def test_rejected_post_goes_to_the_next_bidder(db_target: DbTarget, tmp_path: Path) -> None:
    sims = [sim("picky", bid_fen=5000, accept_rate=0.0), sim("steady", bid_fen=3000), sim("cheap", bid_fen=1000)]
    async with partner_stack(
        db_target, tmp_path, sims, policy="waterfall", waterfall={"near_prime": ["picky", "steady", "cheap"]}
    ) as stack:
        result = await stack.route(applicant())
        assert result.partner_id == "picky"
        await stack.drain()
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=result.lead_id))
        assert trace.status == store.POSTED and trace.partner_id == "steady"
        assert [(d.partner_id, d.status) for d in trace.deliveries] == [("picky", "REJECTED"), ("steady", "DELIVERED")]
        assert trace.deliveries[1].price.fen == 3000
        assert stack.sims["cheap"].sim.record.post_calls == 0


async def test_rejected_post_after_the_offer_window_is_unsold(db_target: DbTarget, tmp_path: Path) -> None:
    sims = [sim("picky", bid_fen=5000, accept_rate=0.0), sim("steady", bid_fen=3000)]
    async with partner_stack(
        db_target,
        tmp_path,
        sims,
        policy="waterfall",
        offer_window_seconds=60,
        waterfall={"near_prime": ["picky", "steady"]},
    ) as stack:
        result = await stack.route(applicant())
        stack.clock.advance(seconds=61)
        await stack.drain()
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=result.lead_id))
        assert (trace.status, trace.partner_id) == (store.UNSOLD, "")
        assert stack.sims["steady"].sim.record.post_calls == 0
