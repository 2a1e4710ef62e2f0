"""A dead letter replayed by several callers at once is replayed once: one caller gets PENDING, the rest
NOT_DEAD_LETTER (or, under the same key, the first answer); the lead is delivered once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc

from services.router.partners import store
from skylane.router.v1 import leads_pb2
from tests.helpers import DbTarget, error_reason, key
from tests.router.partners.helpers import Stack, applicant, partner_stack, sim

TWINS = 5


async def _dead_letter(stack: Stack) -> tuple[str, str]:
    result = await stack.route(applicant())
    stack.sims["gone"].sim.mode = "down"
    for _ in range(3):
        await stack.dispatcher.run_once()
        stack.clock.advance(minutes=2)
    (dead,) = (await stack.leads.ListDeadLetters(leads_pb2.ListDeadLettersRequest())).dead_letters
    stack.sims["gone"].sim.mode = "none"
    return result.lead_id, dead.delivery_id


async def test_concurrent_replays_of_one_dead_letter_replay_it_once(db_target: DbTarget, tmp_path: Path) -> None:
    delivery = {"background": False, "max_attempts": 2, "breaker_failures": 50}
    async with partner_stack(db_target, tmp_path, [sim("gone")], delivery=delivery) as stack:
        lead_id, delivery_id = await _dead_letter(stack)

        requests = [
            leads_pb2.ReplayDeadLetterRequest(idempotency_key=key(), delivery_id=delivery_id) for _ in range(TWINS)
        ]
        results = await asyncio.gather(*(stack.leads.ReplayDeadLetter(r) for r in requests), return_exceptions=True)
        replayed = [r for r in results if isinstance(r, leads_pb2.ReplayDeadLetterResponse)]
        refused = [r for r in results if isinstance(r, grpc.aio.AioRpcError)]
        assert len(replayed) == 1 and replayed[0].status == store.PENDING
        assert [(e.code(), error_reason(e)) for e in refused] == [
            (grpc.StatusCode.FAILED_PRECONDITION, "NOT_DEAD_LETTER")
        ] * (TWINS - 1)

        await stack.dispatcher.run_once()
        assert stack.sims["gone"].sim.accepted_leads() == [lead_id]
        assert not (await stack.leads.ListDeadLetters(leads_pb2.ListDeadLettersRequest())).dead_letters


async def test_concurrent_retries_of_one_replay_answer_alike(db_target: DbTarget, tmp_path: Path) -> None:
    delivery = {"background": False, "max_attempts": 2, "breaker_failures": 50}
    async with partner_stack(db_target, tmp_path, [sim("gone")], delivery=delivery) as stack:
        lead_id, delivery_id = await _dead_letter(stack)
        request = leads_pb2.ReplayDeadLetterRequest(idempotency_key=key(), delivery_id=delivery_id)
        answers = await asyncio.gather(*(stack.leads.ReplayDeadLetter(request) for _ in range(TWINS)))
        assert {a.status for a in answers} == {store.PENDING}
        await stack.dispatcher.run_once()
        assert stack.sims["gone"].sim.accepted_leads() == [lead_id]
