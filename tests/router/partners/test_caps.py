"""Partner caps: concurrent leads never exceed a cap; a rejection releases its reservation, an acceptance
commits it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.router.partners import store
from services.router.partners.domain import CHOSEN
from skylane.router.v1 import leads_pb2
from tests.helpers import DbTarget
from tests.router.partners.helpers import applicant, partner_stack, sim


async def test_concurrent_leads_never_exceed_a_cap(db_target: DbTarget, tmp_path: Path) -> None:
    sims = [sim("capped", bid_fen=5000), sim("backup", bid_fen=1000)]
    async with partner_stack(
        db_target,
        tmp_path,
        sims,
        lenders={"capped": {"caps": {"day": 5, "hour": 7}}},
        policy="waterfall",
        waterfall={"near_prime": ["capped", "backup"]},
    ) as stack:
        results = await asyncio.gather(*(stack.route(applicant()) for _ in range(14)))
        winners = [r.partner_id for r in results]
        assert winners.count("capped") == 5 and winners.count("backup") == 9
        async with stack.app.db.read() as session:
            usage = await store.cap_usage(session, "capped")
        assert sorted((k.split(":")[0], used) for k, (used, _, _) in usage.items()) == [("day", 5), ("hour", 5)]
        capped_lead = next(r for r in results if r.partner_id == "backup")
        statuses = {e.partner_id: e.status for e in capped_lead.trace}
        assert statuses == {"capped": "CAPPED", "backup": CHOSEN}


async def test_rejection_releases_the_cap_and_acceptance_commits_it(db_target: DbTarget, tmp_path: Path) -> None:
    sims = [sim("picky", bid_fen=5000, accept_rate=0.0), sim("steady", bid_fen=3000)]
    lenders = {"picky": {"caps": {"day": 1}}, "steady": {"caps": {"day": 1}}}
    async with partner_stack(
        db_target, tmp_path, sims, lenders=lenders, policy="waterfall", waterfall={"near_prime": ["picky", "steady"]}
    ) as stack:
        await stack.route(applicant())
        await stack.drain()
        async with stack.app.db.read() as session:
            picky, steady = await store.cap_usage(session, "picky"), await store.cap_usage(session, "steady")
        assert list(picky.values()) == [(0, 0, 1)]  # reserved, then released on rejection
        assert list(steady.values()) == [(1, 1, 1)]  # reserved by the fallback, committed on acceptance
        second = await stack.route(applicant())  # picky has room again (its rejection released the slot)
        assert second.partner_id == "picky"
        await stack.drain()  # picky rejects again; steady is full for today, so the lead stays unsold
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=second.lead_id))
        assert (trace.status, [d.partner_id for d in trace.deliveries]) == (store.UNSOLD, ["picky"])
