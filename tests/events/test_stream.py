"""StreamEvents on real servers: every service streams its events from a cursor, in commit order, resumable,
following new commits; malformed requests are refused field by field."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from skylane.router.v1 import router_pb2
from tests.events.helpers import drain
from tests.helpers import DbTarget, error_reason, field_violations, key
from tests.router.helpers import IN_HOUSE, request, router, stub


async def test_router_streams_decisions_and_loans_from_a_cursor(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path) as h:
        s = stub(h)
        prime = await s.RouteApplicant(request(1, score=720))
        declined = await s.RouteApplicant(request(2, score=300))
        assert prime.destination == IN_HOUSE

        events, cursor = await drain(h.channel)
        assert [(e.type, e.customer.ref, e.data["decision_id"]) for e in events] == [
            ("decision_made", "applicant-000001", prime.decision_id),
            ("decision_made", "applicant-000002", declined.decision_id),
        ]
        assert events[0].data["destination"] == "IN_HOUSE" and events[0].data["product_id"] == "travel_loan"
        assert events[1].data["destination"] == "DECLINED" and events[1].data["tier"] == "declined"
        assert events[0].event_id.startswith("router-") and events[0].event_id != events[1].event_id
        assert cursor == events[-1].cursor and cursor.startswith("router:")

        # A sticky repeat is no new decision; a drawdown is an event; the stream resumes after the cursor.
        await s.RouteApplicant(request(1, score=720))
        drawn = router_pb2.RecordLoanDrawnRequest(
            idempotency_key=key(), decision_id=prime.decision_id, amount=types_pb2.Money(fen=1_500_000)
        )
        assert (await s.RecordLoanDrawn(drawn)).recorded
        again = router_pb2.RecordLoanDrawnRequest(
            idempotency_key=key(), decision_id=prime.decision_id, amount=types_pb2.Money(fen=1)
        )
        second = await s.RecordLoanDrawn(again)
        assert not second.recorded and second.amount.fen == 1_500_000
        later, cursor2 = await drain(h.channel, cursor)
        assert [(e.type, e.data["decision_id"], e.data["amount_fen"]) for e in later] == [
            ("loan_drawn", prime.decision_id, "1500000")
        ]
        assert later[0].data["product"] == "travel_loan"
        assert (await drain(h.channel, cursor2))[0] == []

        # Small pages give the same events in the same order; a type filter still moves the cursor.
        paged, _ = await drain(h.channel, page_size=1)
        assert [e.event_id for e in paged] == [e.event_id for e in events + later]
        only, end = await drain(h.channel, types=["loan_drawn"])
        assert [e.type for e in only] == ["loan_drawn"] and end == cursor2


async def test_loan_drawn_needs_an_in_house_decision(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path) as h:
        s = stub(h)
        pool = await s.RouteApplicant(request(3, score=650))
        for decision_id, code in (
            (pool.decision_id, grpc.StatusCode.FAILED_PRECONDITION),
            ("nope", grpc.StatusCode.NOT_FOUND),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await s.RecordLoanDrawn(
                    router_pb2.RecordLoanDrawnRequest(
                        idempotency_key=key(), decision_id=decision_id, amount=types_pb2.Money(fen=100)
                    )
                )
            assert refused.value.code() == code
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await s.RecordLoanDrawn(router_pb2.RecordLoanDrawnRequest(idempotency_key=key(), decision_id="x"))
        assert "amount.fen" in field_violations(bad.value)
        assert [e.type for e in (await drain(h.channel))[0]] == ["decision_made"]


async def test_a_following_stream_gets_new_events_as_they_commit(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path) as h:
        s = stub(h)
        stream = events_pb2_grpc.EventsOpsServiceStub(h.channel).StreamEvents(
            events_pb2.StreamEventsRequest(follow=True)
        )
        pages = stream.__aiter__()
        first = await asyncio.wait_for(pages.__anext__(), 5)
        assert first.caught_up and not first.events and first.cursor == "router:0"
        decided = await s.RouteApplicant(request(4, score=720))
        page = await asyncio.wait_for(pages.__anext__(), 5)
        assert [e.data["decision_id"] for e in page.events] == [decided.decision_id] and page.caught_up
        stream.cancel()


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (events_pb2.StreamEventsRequest(cursor="growth:12"), "cursor"),
        (events_pb2.StreamEventsRequest(cursor="router:x"), "cursor"),
        (events_pb2.StreamEventsRequest(cursor="12"), "cursor"),
        (events_pb2.StreamEventsRequest(page_size=1001), "page_size"),
        (events_pb2.StreamEventsRequest(page_size=-1), "page_size"),
        (events_pb2.StreamEventsRequest(types=["Not A Type"]), "types[0]"),
    ],
)
async def test_malformed_stream_requests_are_refused(
    db_target: DbTarget, tmp_path: Path, message: events_pb2.StreamEventsRequest, field: str
) -> None:
    async with router(db_target, tmp_path) as h:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await drain_request(h.channel, message)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(refused.value)


async def drain_request(channel: grpc.aio.Channel, message: events_pb2.StreamEventsRequest) -> None:
    async for _ in events_pb2_grpc.EventsOpsServiceStub(channel).StreamEvents(message):
        pass


async def test_a_body_that_is_not_a_stream_request_is_refused_as_malformed(db_target: DbTarget, tmp_path: Path) -> None:
    # grpc's own deserializer answered UNKNOWN, naming a Python exception; the edge parses it like a unary call's.
    async with router(db_target, tmp_path) as h:
        raw = h.channel.unary_stream(
            "/skylane.common.v1.EventsOpsService/StreamEvents", request_serializer=None, response_deserializer=None
        )
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            async for _ in raw(b"\xff\xff\xff\xff"):
                pass
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "request" in field_violations(refused.value)
        await drain_request(h.channel, events_pb2.StreamEventsRequest(page_size=5))  # and the server goes on


async def test_a_cursor_past_the_last_event_is_refused(db_target: DbTarget, tmp_path: Path) -> None:
    """A follower whose cursor came from a replaced or restored database would skip this stream's events."""
    async with router(db_target, tmp_path) as h:
        s = stub(h)
        for n in (1, 2):
            await s.RouteApplicant(request(n, score=720))
        events, cursor = await drain(h.channel)
        assert cursor == "router:2" and len(events) == 2
        assert (await drain(h.channel, cursor))[0] == []  # at the head: nothing new, not refused
        for ahead in ("router:3", "router:999999"):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await drain_request(h.channel, events_pb2.StreamEventsRequest(cursor=ahead))
            assert (refused.value.code(), error_reason(refused.value)) == (
                grpc.StatusCode.FAILED_PRECONDITION,
                "CURSOR_AHEAD_OF_STREAM",
            )
            assert "past the last event of this router stream (router:2)" in refused.value.details()
