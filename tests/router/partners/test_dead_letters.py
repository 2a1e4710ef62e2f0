"""Deliveries out of attempts become dead letters that ops list (paged) and replay."""

from __future__ import annotations

import base64
from pathlib import Path

import grpc
import pytest

from skylane.common.v1 import types_pb2
from skylane.router.v1 import leads_pb2
from tests.helpers import DbTarget, error_reason, field_violations, key
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


async def test_a_page_token_the_server_did_not_issue_is_refused_by_name(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(db_target, tmp_path, [sim("gone")], delivery={"background": False}) as stack:
        # A NUL (AA), bytes that are not UTF-8 (_w), and a surrogate half ("7aCA", CESU-8) decode to no
        # delivery id; PostgreSQL cannot even take the NUL as a parameter (INTERNAL before).
        for token in ("AA", "AA==", "YQBi", "_w", "7aCA"):
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await stack.leads.ListDeadLetters(
                    leads_pb2.ListDeadLettersRequest(page=types_pb2.PageRequest(page_token=token))
                )
            assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT, token
            assert set(field_violations(bad.value)) == {"page.page_token"}, token
        # What the server issues, the base64 of a delivery id, is still taken: letters after it, none here.
        after = base64.urlsafe_b64encode(b"f" * 32).decode()
        page = await stack.leads.ListDeadLetters(
            leads_pb2.ListDeadLettersRequest(page=types_pb2.PageRequest(page_token=after))
        )
        assert not page.dead_letters
