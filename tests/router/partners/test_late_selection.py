"""A lead recorded without an offer is pinged and selected later, outside the applicant's call, once."""

from __future__ import annotations

from pathlib import Path

from services.router.partners import store
from services.router.partners.domain import CHOSEN
from services.router.partners.service.leads import RecordItem
from skylane.router.v1 import leads_pb2
from tests.helpers import DbTarget
from tests.router.partners.helpers import applicant, partner_stack, sim


async def test_a_lead_recorded_without_an_offer_is_selected_later(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(db_target, tmp_path, [sim("later", bid_fen=2200)]) as stack:
        a = applicant("tail")
        async with stack.app.db.transaction() as session:  # e.g. in-house overflow: no ping during the call
            (pending,) = await stack.lead_records.record_many(session, [RecordItem(None, a, "decision-1", "v1")])
        assert (pending.status, pending.partner_id) == (store.PENDING_SELECTION, "")
        assert stack.sims["later"].sim.record.ping_calls == 0
        assert await stack.lead_records.select_pending() == 1
        assert await stack.lead_records.select_pending() == 0  # selected once
        await stack.drain()
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=pending.lead_id))
        assert (trace.status, trace.partner_id, trace.tier, trace.decision_id) == (
            store.POSTED,
            "later",
            "tail",
            "decision-1",
        )
        assert [e.status for e in trace.entries] == [CHOSEN]
        assert stack.sims["later"].sim.accepted_leads() == [pending.lead_id]
