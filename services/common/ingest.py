"""IngestEvents: events from outside the suite join the receiving service's event stream, each once.

Every server registers it (services/common/server.py). One call is one unit of work of ServiceApp.write (the
call's own idempotency key makes the whole call retryable). Inside it, each event first claims its own key
in `ingested_events` (INSERT … ON CONFLICT DO NOTHING: a concurrent copy on PostgreSQL waits for the first
to commit, then finds the key taken); a claimed event is appended to the outbox as `outside.<type>`, a key
already there answers DUPLICATE with the first event's id. Keys are kept `events.ingest_dedupe_days`
(at least 7) and then purged (services/common/event_workers.py).

An event's time zone is kept per customer (`customer_zones`); every accepted event's data carries the
customer's zone as it stands after the event (given, kept from before, or the service's config zone).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy import MetaData, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common import outbox
from services.common.clock import Clock
from services.common.config import is_zone_name
from services.common.db import insert_ignoring_conflicts
from services.common.errors import Violations
from services.common.event_schema import ingest_tables
from services.common.event_stream import event_id
from services.common.personal_data import names_personal_data
from services.common.validation import check_customer_ref, check_idempotency_key
from skylane.common.v1 import events_pb2, events_pb2_grpc

METHOD = "EventIngestService.IngestEvents"
MAX_EVENTS = 256
MAX_ATTRIBUTES = 32
MAX_FUTURE = timedelta(minutes=5)
RESERVED = frozenset({"source", "occurred_at", "time_zone"})  # data keys the ingest itself sets
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")

_KEYS, _ZONES = ingest_tables(MetaData())
R = TypeVar("R", bound=Message)


class Write(Protocol):
    """ServiceApp.write."""

    def __call__(
        self, method: str, request: Message, response_type: type[R], work: Callable[[AsyncSession], Awaitable[R]]
    ) -> Awaitable[R]: ...


def check_event(v: Violations, event: events_pb2.OutsideEvent, path: str, now: datetime) -> None:
    check_idempotency_key(v, event.idempotency_key, f"{path}.idempotency_key")
    v.check(_SOURCE.match(event.source) is not None, f"{path}.source", "required: a-z, 0-9, '_', '.', '-', ≤ 64")
    v.check(_NAME.match(event.type) is not None, f"{path}.type", "required: lower_snake_case, at most 64 characters")
    check_customer_ref(v, event.customer.ref, f"{path}.customer.ref")
    if event.HasField("occurred_at") and event.occurred_at.ToDatetime(tzinfo=now.tzinfo) > now + MAX_FUTURE:
        v.add(f"{path}.occurred_at", "is more than 5 minutes in the future")
    if event.time_zone and not is_zone_name(event.time_zone):
        v.add(f"{path}.time_zone", "must be an IANA time zone name, e.g. Asia/Shanghai")
    if len(event.attributes) > MAX_ATTRIBUTES:
        v.add(f"{path}.attributes", f"at most {MAX_ATTRIBUTES} attributes")
    for name in sorted(event.attributes):
        if not _NAME.match(name) or name in RESERVED:
            v.add(f"{path}.attributes", "names are lower_snake_case, and not source, occurred_at or time_zone")
            break
    _check_personal_attributes(v, event, path)


def _check_personal_attributes(v: Violations, event: events_pb2.OutsideEvent, path: str) -> None:
    """Events reach every follower of the stream: no names, contacts or personal numbers in them. (Phone, ID
    and card numbers in values are refused by the request rules of every field.)"""
    for name, value in sorted(event.attributes.items()):
        if names_personal_data(name):
            v.add(f"{path}.attributes[{name}]", "names personal data: events carry the customer's ref, never this")
        elif _EMAIL.search(value):
            v.add(f"{path}.attributes[{name}]", "holds an e-mail address: events carry the customer's ref, never this")


def check_ingest(request: events_pb2.IngestEventsRequest, now: datetime) -> None:
    v = Violations()
    check_idempotency_key(v, request.idempotency_key)
    if not 1 <= len(request.events) <= MAX_EVENTS:
        v.add("events", f"1 to {MAX_EVENTS} events")
    for index, event in enumerate(request.events[:MAX_EVENTS]):
        check_event(v, event, f"events[{index}]", now)
    v.raise_if_any()


async def zone_of(executor: AsyncSession | AsyncConnection, customer: str) -> str | None:
    """The time zone kept for a customer (None: never given one; the service's config zone applies)."""
    return (await executor.execute(select(_ZONES.c.zone).where(_ZONES.c.customer == customer))).scalar()


class Ingest:
    def __init__(self, service: str, write: Write, clock: Clock, dialect: str, default_zone: Callable[[], str]) -> None:
        self.service, self.write, self.clock, self.dialect = service, write, clock, dialect
        self.default_zone = default_zone
        self._number = update(_KEYS).where(_KEYS.c.key == bindparam("p_key")).values(event_seq=bindparam("p_seq"))

    async def __call__(self, request: events_pb2.IngestEventsRequest) -> events_pb2.IngestEventsResponse:
        now = self.clock.now()
        check_ingest(request, now)

        async def work(session: AsyncSession) -> events_pb2.IngestEventsResponse:
            return await self._batch(await session.connection(), list(request.events), now)

        return await self.write(METHOD, request, events_pb2.IngestEventsResponse, work)

    async def _batch(
        self, conn: AsyncConnection, events: list[events_pb2.OutsideEvent], now: datetime
    ) -> events_pb2.IngestEventsResponse:
        """A handful of statements per batch and about two per accepted event: the keys claimed at once,
        the zones read at once, one outbox row per new event, the keys numbered in one executemany."""
        claimed = await self._claim(conn, [e.idempotency_key.value for e in events], now)
        zones = await self._zones(conn, events)
        seqs: dict[str, int] = {}
        changed: dict[str, str] = {}
        for event in events:
            key, customer = event.idempotency_key.value, event.customer.ref
            if key not in claimed or key in seqs:
                continue
            if event.time_zone:
                zones[customer] = changed[customer] = event.time_zone
            seqs[key] = await outbox.append(
                conn, type=f"outside.{event.type}", customer=customer, at=now, data=self._data(event, zones, now)
            )
        if seqs:
            await conn.execute(self._number, [{"p_key": k, "p_seq": s} for k, s in seqs.items()])
        await self._keep_zones(conn, changed, now)
        firsts = await self._first_events(conn, {e.idempotency_key.value for e in events} - seqs.keys())
        results, answered = [], set()
        for event in events:
            key = event.idempotency_key.value
            new = key in seqs and key not in answered
            answered.add(key)
            results.append(
                events_pb2.IngestResult(
                    idempotency_key=key,
                    status=events_pb2.INGEST_STATUS_ACCEPTED if new else events_pb2.INGEST_STATUS_DUPLICATE,
                    event_id=event_id(self.service, seqs[key] if key in seqs else firsts[key]),
                )
            )
        return events_pb2.IngestEventsResponse(results=results)

    async def _claim(self, conn: AsyncConnection, keys: list[str], now: datetime) -> set[str]:
        """Inserts the keys not seen before (in sorted order: concurrent batches lock them in one order)."""
        rows = [{"key": k, "event_seq": 0, "received_at": now} for k in sorted(set(keys))]
        statement = insert_ignoring_conflicts(self.dialect, _KEYS).values(rows).returning(_KEYS.c.key)
        return {str(k) for k in (await conn.execute(statement)).scalars()}

    async def _zones(self, conn: AsyncConnection, events: list[events_pb2.OutsideEvent]) -> dict[str, str]:
        customers = sorted({e.customer.ref for e in events})
        rows = await conn.execute(select(_ZONES.c.customer, _ZONES.c.zone).where(_ZONES.c.customer.in_(customers)))
        return {str(c): str(z) for c, z in rows}

    def _data(self, event: events_pb2.OutsideEvent, zones: dict[str, str], now: datetime) -> dict[str, str]:
        # The row's time is when the event entered the suite (retention counts from it); the source's own
        # time travels in data.occurred_at.
        happened = event.occurred_at.ToDatetime(tzinfo=now.tzinfo) if event.HasField("occurred_at") else now
        return {
            **event.attributes,
            "source": event.source,
            "occurred_at": happened.isoformat(),
            "time_zone": zones.get(event.customer.ref) or self.default_zone(),
        }

    async def _keep_zones(self, conn: AsyncConnection, changed: dict[str, str], now: datetime) -> None:
        for customer, zone in sorted(changed.items()):
            upsert = insert_ignoring_conflicts(self.dialect, _ZONES).values(
                customer=customer, zone=zone, updated_at=now
            )
            if (await conn.execute(upsert)).rowcount != 1:
                await conn.execute(
                    update(_ZONES).where(_ZONES.c.customer == customer).values(zone=zone, updated_at=now)
                )

    async def _first_events(self, conn: AsyncConnection, keys: set[str]) -> dict[str, int]:
        if not keys:
            return {}
        rows = await conn.execute(select(_KEYS.c.key, _KEYS.c.event_seq).where(_KEYS.c.key.in_(sorted(keys))))
        return {str(k): int(s) for k, s in rows}


async def purge_keys(executor: AsyncSession, older_than: timedelta, now: datetime) -> int:
    """Forgets outside events' keys received before `now - older_than`."""
    result = await executor.execute(delete(_KEYS).where(_KEYS.c.received_at < now - older_than))
    return int(result.rowcount)  # type: ignore[attr-defined]


class EventIngestServicer(events_pb2_grpc.EventIngestServiceServicer):
    def __init__(self, ingest: Ingest) -> None:
        self.ingest = ingest

    async def IngestEvents(
        self, request: events_pb2.IngestEventsRequest, context: grpc.aio.ServicerContext
    ) -> events_pb2.IngestEventsResponse:
        return await self.ingest(request)
