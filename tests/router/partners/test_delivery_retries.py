"""Outbox delivery is at least once: a down partner gets every lead exactly once after it returns, and a
retried post after a lost answer is deduped by the lead id."""

from __future__ import annotations

from pathlib import Path

from services.router.partners import store
from skylane.router.v1 import leads_pb2
from tests.helpers import DbTarget
from tests.router.partners.helpers import applicant, partner_stack, sim


async def test_down_partner_gets_every_lead_exactly_once_after_it_returns(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(db_target, tmp_path, [sim("flaky")]) as stack:
        flaky = stack.sims["flaky"].sim
        results = [await stack.route(applicant()) for _ in range(8)]
        lead_ids = {r.lead_id for r in results}
        assert all(r.partner_id == "flaky" for r in results)
        flaky.mode = "down"  # chosen while it answered pings, then it went down before the posts
        for _ in range(3):  # down for a while: attempts fail, the circuit opens, rows wait
            await stack.dispatcher.run_once()
            stack.clock.advance(seconds=40)
        assert flaky.accepted_leads() == []
        flaky.mode = "none"  # back up
        for _ in range(6):
            await stack.dispatcher.run_once()
            stack.clock.advance(seconds=40)
        assert sorted(flaky.accepted_leads()) == sorted(lead_ids)
        assert len(flaky.record.posts) == len(lead_ids)  # each lead id received (deduped) once
        async with stack.app.db.read() as session:
            for lead_id in lead_ids:
                lead = await store.load_lead(session, lead_id)
                assert lead.status == store.POSTED
                deliveries = await store.deliveries_of(session, lead_id)
                assert [d.status for d in deliveries] == [store.DELIVERED]


async def test_retried_post_after_a_lost_answer_is_deduped_by_lead_id(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(
        db_target,
        tmp_path,
        [sim("slowpoke")],
        delivery={
            "background": False,
            "attempt_timeout_ms": 100,
            "breaker_failures": 10,
        },
    ) as stack:
        result = await stack.route(applicant())
        slowpoke = stack.sims["slowpoke"].sim
        slowpoke.post_answer_delay_ms = 1000
        await stack.dispatcher.run_once()  # the partner takes the lead but the answer misses the deadline
        assert slowpoke.accepted_leads() == [result.lead_id]
        slowpoke.post_answer_delay_ms = 0
        stack.clock.advance(minutes=5)
        await stack.dispatcher.run_once()  # the retry carries the same lead id: the partner answers from memory
        assert slowpoke.record.post_calls == 2
        assert slowpoke.accepted_leads() == [result.lead_id]
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=result.lead_id))
        assert trace.status == store.POSTED
        assert [(d.status, d.attempts) for d in trace.deliveries] == [(store.DELIVERED, 2)]
