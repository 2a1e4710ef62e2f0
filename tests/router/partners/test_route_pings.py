"""Pings while RouteApplicant waits: the ping budget bounds the call whatever a partner does, and garbage,
errors and applicants a partner already knows are no bids."""

from __future__ import annotations

import time
from pathlib import Path

from services.router.partners.domain import CHOSEN, TIMEOUT
from skylane.router.v1 import leads_pb2
from tests.helpers import DbTarget
from tests.router.partners.helpers import applicant, partner_stack, sim


async def test_hanging_partner_does_not_push_the_call_past_the_budget(db_target: DbTarget, tmp_path: Path) -> None:
    sims = [sim("hangs", failure="hang", bid_fen=9000), sim("quick", bid_fen=2500)]
    # Its own timeout (10 s, the most a lender may set) is far longer than the budget (0.4 s): the budget wins.
    lenders = {"hangs": {"ping_timeout_ms": 10_000}}
    async with partner_stack(db_target, tmp_path, sims, lenders=lenders, ping_budget_ms=400) as stack:
        started = time.perf_counter()
        result = await stack.route(applicant())
        elapsed = time.perf_counter() - started
        # Waiting for the hanging partner's own timeout would take 10 s at least; the budget ends the pings at
        # 0.4 s. The line between them is drawn at half the partner's timeout, which a loaded CI machine's
        # first call on a fresh stack (measured up to about 2 s) stays far below, and a missed budget cannot.
        assert elapsed < 5.0
        assert (result.partner_id, result.price_fen) == ("quick", 2500)
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=result.lead_id))
        statuses = {e.partner_id: e.status for e in trace.entries}
        assert statuses == {"hangs": TIMEOUT, "quick": CHOSEN}


async def test_garbage_and_erroring_partners_count_as_no_bid(db_target: DbTarget, tmp_path: Path) -> None:
    sims = [sim("junk", failure="garbage"), sim("broken", failure="error"), sim("known", known_rate=1.0), sim("ok")]
    async with partner_stack(db_target, tmp_path, sims) as stack:
        result = await stack.route(applicant())
        assert result.partner_id == "ok"
        statuses = {e.partner_id: e.status for e in result.trace}
        assert statuses == {"junk": "ERROR", "broken": "ERROR", "known": "ALREADY_KNOWN", "ok": CHOSEN}
