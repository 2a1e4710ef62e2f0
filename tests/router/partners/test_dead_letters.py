"""Deliveries out of attempts become dead letters that ops list (paged) and replay."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from skylane.router.v1 import leads_pb2
from tests.helpers import DbTarget, error_reason, key
from tests.router.partners.helpers import applicant, partner_stack, sim


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
