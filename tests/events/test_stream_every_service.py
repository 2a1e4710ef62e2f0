"""Every service serves its events from a cursor: after reading to the end, a read from that cursor gets
exactly the events committed since, in order, with their cursors, and a read from the last cursor gets
none (both engines; the domain events of each service are streamed in the consumer tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.registry import SERVICES
from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from tests.events.helpers import drain
from tests.helpers import REPO, DbTarget, key, running_service


async def ingest(channel: object, n: int) -> None:
    outside = events_pb2.OutsideEvent(
        idempotency_key=key(), source="test", type="sign_in", customer=types_pb2.CustomerRef(ref=f"customer-{n:04}")
    )
    await events_pb2_grpc.EventIngestServiceStub(channel).IngestEvents(
        events_pb2.IngestEventsRequest(idempotency_key=key(), events=[outside])
    )


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_a_service_streams_what_committed_after_a_cursor(
    service: str, db_target: DbTarget, tmp_path: Path
) -> None:
    config = tmp_path / f"{service}.yaml"
    config.write_text((REPO / "config" / f"{service}.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    async with running_service(SERVICES[service].build, db_target, config) as h:
        await ingest(h.channel, 0)
        before, cursor = await drain(h.channel)
        assert cursor.startswith(f"{service}:") and before
        for n in (1, 2, 3):
            await ingest(h.channel, n)
        after, end = await drain(h.channel, cursor, page_size=2)
        assert [e.customer.ref for e in after] == ["customer-0001", "customer-0002", "customer-0003"]
        assert all(e.service == service and e.type == "outside.sign_in" for e in after)
        assert {e.event_id for e in after}.isdisjoint(e.event_id for e in before)
        assert after[-1].cursor == end
        resumed, _ = await drain(h.channel, after[0].cursor)  # from an event's own cursor: what came after it
        assert [e.event_id for e in resumed] == [e.event_id for e in after[1:]]
        assert (await drain(h.channel, end))[0] == []
