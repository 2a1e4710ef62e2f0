"""The circuit breaker in delivery: failures open it, the open period passes, a single probe goes."""

from __future__ import annotations

from pathlib import Path

from skylane.router.v1 import leads_pb2
from tests.helpers import DbTarget
from tests.router.partners.helpers import applicant, partner_stack, sim


async def test_circuit_opens_then_half_opens_with_a_single_probe(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(db_target, tmp_path, [sim("wobbly")]) as stack:
        wobbly = stack.sims["wobbly"].sim
        for _ in range(5):
            await stack.route(applicant())
        wobbly.mode = "error"
        await stack.dispatcher.run_once()  # 3 failures open the circuit; the other 2 wait without a call
        assert wobbly.record.post_calls == 3
        report = await stack.leads.GetPartnerReport(leads_pb2.GetPartnerReportRequest(partner_id="wobbly"))
        assert report.partners[0].circuit == "OPEN"

        skipped = await stack.route(applicant())  # an open circuit also keeps the partner out of selection
        assert skipped.partner_id == ""
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=skipped.lead_id))
        assert [e.status for e in trace.entries] == ["CIRCUIT_OPEN"]

        stack.clock.advance(seconds=31)
        report = await stack.leads.GetPartnerReport(leads_pb2.GetPartnerReportRequest(partner_id="wobbly"))
        assert report.partners[0].circuit == "HALF_OPEN"
        await stack.dispatcher.run_once()  # one probe, still failing → open again
        assert wobbly.record.post_calls == 4
        report = await stack.leads.GetPartnerReport(leads_pb2.GetPartnerReportRequest(partner_id="wobbly"))
        assert report.partners[0].circuit == "OPEN"

        wobbly.mode = "none"
        stack.clock.advance(seconds=31)
        await stack.dispatcher.run_once()  # the probe succeeds, the circuit closes, the queue drains
        await stack.dispatcher.run_once()
        assert len(wobbly.accepted_leads()) == 5
        report = await stack.leads.GetPartnerReport(leads_pb2.GetPartnerReportRequest(partner_id="wobbly"))
        assert report.partners[0].circuit == "CLOSED"
