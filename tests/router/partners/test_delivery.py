"""Ping budget, outbox delivery, retries, circuit breaker, dead letters, fallbacks and caps — real
partner-sim servers on real sockets, a real LeadService, real SQLite / PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest

from services.router.partners import store
from services.router.partners.domain import CHOSEN, TIMEOUT
from skylane.partner.v1 import partner_pb2
from skylane.router.v1 import leads_pb2
from tests.router.partners.harness import applicant, partner_stack, sim
from tests.support import DbTarget, error_reason, key


async def test_hanging_partner_does_not_push_the_call_past_the_budget(db_target: DbTarget, tmp_path: Path) -> None:
    sims = [sim("hangs", failure="hang", bid_fen=9000), sim("quick", bid_fen=2500)]
    lenders = {"hangs": {"ping_timeout_ms": 5000}}  # its own timeout is longer than the budget: the budget wins
    async with partner_stack(db_target, tmp_path, sims, lenders=lenders, ping_budget_ms=400) as stack:
        started = time.perf_counter()
        result = await stack.route(applicant())
        elapsed = time.perf_counter() - started
        assert elapsed < 0.4 + 1.0  # budget + generous slack for shared CI machines
        assert (result.partner_id, result.price_fen) == ("quick", 2500)
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=result.lead_id))
        statuses = {e.partner_id: e.status for e in trace.entries}
        assert statuses == {"hangs": TIMEOUT, "quick": CHOSEN}


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


async def test_dead_letters_are_listed_and_replayed(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(
        db_target,
        tmp_path,
        [sim("gone")],
        delivery={
            "background": False,
            "max_attempts": 2,
            "breaker_failures": 50,
        },
    ) as stack:
        result = await stack.route(applicant())
        stack.sims["gone"].sim.mode = "down"
        for _ in range(3):
            await stack.dispatcher.run_once()
            stack.clock.advance(minutes=2)
        page = await stack.leads.ListDeadLetters(leads_pb2.ListDeadLettersRequest())
        assert [(d.lead_id, d.partner_id, d.attempts, d.last_error) for d in page.dead_letters] == [
            (result.lead_id, "gone", 2, "UNAVAILABLE")
        ]
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await stack.leads.ReplayDeadLetter(
                leads_pb2.ReplayDeadLetterRequest(idempotency_key=key(), delivery_id="nope")
            )
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND

        stack.sims["gone"].sim.mode = "none"
        replay_key = key()
        request = leads_pb2.ReplayDeadLetterRequest(
            idempotency_key=replay_key, delivery_id=page.dead_letters[0].delivery_id
        )
        assert (await stack.leads.ReplayDeadLetter(request)).status == "PENDING"
        assert (await stack.leads.ReplayDeadLetter(request)).status == "PENDING"  # retry: same answer, one effect
        await stack.dispatcher.run_once()
        assert stack.sims["gone"].sim.accepted_leads() == [result.lead_id]
        assert not (await stack.leads.ListDeadLetters(leads_pb2.ListDeadLettersRequest())).dead_letters
        with pytest.raises(grpc.aio.AioRpcError) as again:
            await stack.leads.ReplayDeadLetter(
                leads_pb2.ReplayDeadLetterRequest(idempotency_key=key(), delivery_id=request.delivery_id)
            )
        assert again.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_reason(again.value) == "NOT_DEAD_LETTER"


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


@pytest.mark.parametrize(
    ("lender", "consent_ids", "consent_classes", "expected"),
    [
        ({}, (), ("licensed_bank",), "NO_CONSENT"),  # consent names another class
        ({"allow_listed": False}, (), ("consumer_finance",), "NOT_ALLOW_LISTED"),
        ({"annual_cost_rate": 0.36}, (), ("consumer_finance",), "COST_CEILING"),
        ({"enabled": False}, (), ("consumer_finance",), "DISABLED"),
    ],
)
async def test_partners_without_standing_or_consent_never_receive_a_lead(
    db_target: DbTarget,
    tmp_path: Path,
    lender: dict[str, object],
    consent_ids: tuple[str, ...],
    consent_classes: tuple[str, ...],
    expected: str,
) -> None:
    sims = [sim("blocked", bid_fen=9000), sim("fine", bid_fen=1000)]
    async with partner_stack(
        db_target, tmp_path, sims, lenders={"blocked": lender, "fine": {"partner_class": "licensed_bank"}}
    ) as stack:
        for _ in range(3):
            result = await stack.route(
                applicant(consent_ids=consent_ids, consent_classes=(*consent_classes, "licensed_bank"))
            )
            assert result.partner_id == "fine"
            assert {e.partner_id: e.status for e in result.trace}["blocked"] == expected
        await stack.drain()
        blocked = stack.sims["blocked"].sim.record
        assert (blocked.ping_calls, blocked.post_calls) == (0, 0)


async def test_consent_by_partner_id_for_the_purpose_is_enough(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(db_target, tmp_path, [sim("named", bid_fen=2000)]) as stack:
        other_purpose = await stack.route(applicant(consent_ids=["named"], consent_classes=(), purposes=["marketing"]))
        assert [e.status for e in other_purpose.trace] == ["NO_CONSENT"]
        named = await stack.route(applicant(consent_ids=["named"], consent_classes=()))
        assert named.partner_id == "named"
        await stack.drain()
        assert stack.sims["named"].sim.accepted_leads() == [named.lead_id]
        post = stack.sims["named"].sim.record.post_requests[named.lead_id]
        assert post.source_channel == "ceair_app" and post.applicant.age_band == "25-34"
        assert post.idempotency_key.value == named.lead_id


async def test_garbage_and_erroring_partners_count_as_no_bid(db_target: DbTarget, tmp_path: Path) -> None:
    sims = [sim("junk", failure="garbage"), sim("broken", failure="error"), sim("known", known_rate=1.0), sim("ok")]
    async with partner_stack(db_target, tmp_path, sims) as stack:
        result = await stack.route(applicant())
        assert result.partner_id == "ok"
        statuses = {e.partner_id: e.status for e in result.trace}
        assert statuses == {"junk": "ERROR", "broken": "ERROR", "known": "ALREADY_KNOWN", "ok": CHOSEN}


async def test_post_response_without_a_verdict_is_a_failed_attempt() -> None:
    from services.router.partners.ping import interpret

    assert interpret("p", partner_pb2.PingResponse(bid_offered=False, known_applicant=False), 1.0).status == "NO_BID"
    assert interpret("p", partner_pb2.PingResponse(bid_offered=True, bid={"fen": 10**9}), 1.0).status == "ERROR"


async def test_a_lead_recorded_without_an_offer_is_selected_later(db_target: DbTarget, tmp_path: Path) -> None:
    from services.router.partners.desk import RecordItem

    async with partner_stack(db_target, tmp_path, [sim("later", bid_fen=2200)]) as stack:
        a = applicant("tail")
        async with stack.app.db.transaction() as session:  # e.g. in-house overflow: no ping during the call
            (pending,) = await stack.desk.record_many(session, [RecordItem(None, a, "decision-1", "v1")])
        assert (pending.status, pending.partner_id) == (store.PENDING_SELECTION, "")
        assert stack.sims["later"].sim.record.ping_calls == 0
        assert await stack.desk.select_pending() == 1
        assert await stack.desk.select_pending() == 0  # selected once
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
