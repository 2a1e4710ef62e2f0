"""IngestEvents on real servers: single and batch, each event once by its own key for at least 7 days,
the customer's time zone kept, malformed events refused field by field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from services.common.event_services import upkeep_once
from services.common.ingest import zone_of
from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from tests.events.helpers import drain
from tests.helpers import DbTarget, field_violations, key
from tests.router.helpers import router

ACCEPTED, DUPLICATE = events_pb2.INGEST_STATUS_ACCEPTED, events_pb2.INGEST_STATUS_DUPLICATE


def outside(
    event_key: str, customer: str = "cust-hash-0001", kind: str = "birthday", **fields: object
) -> events_pb2.OutsideEvent:
    return events_pb2.OutsideEvent(
        idempotency_key=types_pb2.IdempotencyKey(value=event_key),
        source="cdp",
        type=kind,
        customer=types_pb2.CustomerRef(ref=customer),
        **fields,  # type: ignore[arg-type]
    )


async def ingest(channel: grpc.aio.Channel, *events: events_pb2.OutsideEvent) -> list[events_pb2.IngestResult]:
    stub = events_pb2_grpc.EventIngestServiceStub(channel)
    answer = await stub.IngestEvents(events_pb2.IngestEventsRequest(idempotency_key=key(), events=list(events)))
    return list(answer.results)


async def test_each_event_is_taken_once_by_its_own_key_for_at_least_seven_days(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with router(db_target, tmp_path) as h:
        first = await ingest(h.channel, outside("bday-1", attributes={"age": "30"}))
        assert first[0].status == ACCEPTED and first[0].event_id.startswith("router-")
        # The same key in another call, alone or in a batch with new ones, and twice in one batch.
        again = await ingest(h.channel, outside("bday-1"))
        assert (again[0].status, again[0].event_id) == (DUPLICATE, first[0].event_id)
        batch = await ingest(
            h.channel, outside("login-1", kind="sign_in"), outside("bday-1"), outside("login-1", kind="sign_in")
        )
        assert [r.status for r in batch] == [ACCEPTED, DUPLICATE, DUPLICATE]
        assert batch[2].event_id == batch[0].event_id

        # Seven days on (and the purge run), the keys are still known.
        h.clock.advance(timedelta(days=7, hours=23))
        await upkeep_once(h.app)
        assert [r.status for r in await ingest(h.channel, outside("bday-1"), outside("login-1"))] == [DUPLICATE] * 2
        h.clock.advance(timedelta(days=1, hours=2))
        await upkeep_once(h.app)
        assert (await ingest(h.channel, outside("bday-1")))[0].status == ACCEPTED  # forgotten after 8 days

        events, _ = await drain(h.channel)
        assert [(e.type, e.data["source"]) for e in events] == [
            ("outside.birthday", "cdp"),
            ("outside.sign_in", "cdp"),
            ("outside.birthday", "cdp"),
        ]
        assert events[0].data["age"] == "30" and events[0].event_id == first[0].event_id


async def test_a_retried_call_gets_its_first_answer(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path) as h:
        stub = events_pb2_grpc.EventIngestServiceStub(h.channel)
        call = events_pb2.IngestEventsRequest(idempotency_key=key("batch-1"), events=[outside("e-1"), outside("e-2")])
        first, retried = await stub.IngestEvents(call), await stub.IngestEvents(call)
        assert first == retried and [r.status for r in retried.results] == [ACCEPTED, ACCEPTED]


async def test_the_customers_time_zone_is_kept(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path) as h:
        happened = Timestamp()
        happened.FromDatetime(h.clock.now() - timedelta(hours=3))
        await ingest(h.channel, outside("z-1", time_zone="America/New_York", occurred_at=happened))
        await ingest(h.channel, outside("z-2", kind="payroll_credited"), outside("z-3", customer="cust-hash-0002"))
        events, _ = await drain(h.channel)
        assert [e.data["time_zone"] for e in events] == ["America/New_York", "America/New_York", "Asia/Shanghai"]
        assert events[0].data["occurred_at"] == (h.clock.now() - timedelta(hours=3)).isoformat()
        assert events[0].occurred_at.ToDatetime().isoformat() == h.clock.now().replace(tzinfo=None).isoformat()
        async with h.app.db.read() as session:
            assert await zone_of(session, "cust-hash-0001") == "America/New_York"
            assert await zone_of(session, "cust-hash-0002") is None


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (outside(""), "events[0].idempotency_key.value"),
        (outside("k", kind="Birthday"), "events[0].type"),
        (outside("k", customer="13812345678"), "events[0].customer.ref"),
        (outside("k", time_zone="Mars/Olympus"), "events[0].time_zone"),
        (outside("k", attributes={"source": "x"}), "events[0].attributes"),
        # The host's own zone: replicas on differently set hosts would count the customer's days apart.
        (outside("k", time_zone="localtime"), "events[0].time_zone"),
        (outside("k", time_zone="Factory"), "events[0].time_zone"),
        # Events reach every follower: no names or contacts, whatever the attribute is called.
        (outside("k", attributes={"customer_name": "张三"}), "events[0].attributes[customer_name]"),
        (outside("k", attributes={"work_email": "x"}), "events[0].attributes[work_email]"),
        (outside("k", attributes={"contact": "zhang.san@example.com"}), "events[0].attributes[contact]"),
    ],
)
async def test_malformed_events_are_refused(
    db_target: DbTarget, tmp_path: Path, event: events_pb2.OutsideEvent, field: str
) -> None:
    async with router(db_target, tmp_path) as h:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ingest(h.channel, event)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(refused.value)
        assert (await drain(h.channel))[0] == []


async def test_a_batch_holds_1_to_256_events_and_the_future_is_refused(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path) as h:
        ahead = Timestamp()
        ahead.FromDatetime(h.clock.now() + timedelta(minutes=10))
        for events, field in (([], "events"), ([outside("k", occurred_at=ahead)], "events[0].occurred_at")):
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await ingest(h.channel, *events)
            assert field in field_violations(refused.value)
        results = await ingest(h.channel, *(outside(f"k-{n}", customer=f"cust-hash-{n:04}") for n in range(256)))
        assert len(results) == 256 and {r.status for r in results} == {ACCEPTED}
