"""StreamEvents: a service's outbox served from a cursor, page by page, optionally following new commits.

Every server registers it (services/common/server.py). The edge checks the request against request_rules
and the ops guard before the first page (services/common/edge.py); the checks of its own fields are here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Collection

import grpc

from services.common import outbox
from services.common.db import Database
from services.common.errors import FailedPrecondition, Violations
from services.common.event_config import EventsConfig
from services.common.outbox import StoredEvent
from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2

DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_TYPES = 32
HEARTBEAT_SECONDS = 15.0  # a following stream with nothing new says so this often
_TYPE = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_CURSOR = re.compile(r"^([a-z]{1,16}):(\d{1,18})$")


def cursor_of(service: str, position: int) -> str:
    return f"{service}:{position}"


def event_id(service: str, seq: int) -> str:
    return f"{service}-{seq}"


def parse_cursor(service: str, cursor: str, v: Violations, path: str = "cursor") -> int:
    """The position a cursor names (0 for the empty cursor); a malformed or foreign one is a violation."""
    if not cursor:
        return 0
    match = _CURSOR.match(cursor)
    if match is None:
        v.add(path, "must be empty or a cursor this stream returned, '<service>:<position>'")
        return 0
    if match.group(1) != service:
        v.add(path, f"is a cursor of the {match.group(1)} stream; this is the {service} stream")
        return 0
    return int(match.group(2))


def check_stream_request(service: str, request: events_pb2.StreamEventsRequest) -> tuple[int, int, frozenset[str]]:
    """(position after which to start, page size, types wanted) or InvalidArgument naming every bad field."""
    v = Violations()
    after = parse_cursor(service, request.cursor, v)
    if not 0 <= request.page_size <= MAX_PAGE:
        v.add("page_size", f"must be 0 (the default, {DEFAULT_PAGE}) to {MAX_PAGE}")
    if len(request.types) > MAX_TYPES:
        v.add("types", f"at most {MAX_TYPES} types")
    for index, name in enumerate(request.types):
        if not _TYPE.match(name):
            v.add(f"types[{index}]", "must be an event type: lower_snake_case, at most 64 characters")
    v.raise_if_any()
    return after, request.page_size or DEFAULT_PAGE, frozenset(request.types)


def domain_event(service: str, event: StoredEvent) -> events_pb2.DomainEvent:
    message = events_pb2.DomainEvent(
        event_id=event_id(service, event.seq),
        service=service,
        type=event.type,
        customer=types_pb2.CustomerRef(ref=event.customer),
        data=event.data,
        cursor=cursor_of(service, event.position),
    )
    message.occurred_at.FromDatetime(event.occurred_at)
    return message


async def pages(
    service: str,
    db: Database,
    after: int,
    size: int,
    types: Collection[str],
    *,
    follow: bool,
    poll_seconds: Callable[[], float],
) -> AsyncIterator[events_pb2.StreamEventsResponse]:
    """The pages past `after`; once caught up, one empty caught-up page, then (following) new events as
    they commit, waking on this process's commits and polling for other processes'. A following stream
    with nothing new repeats the empty caught-up page every HEARTBEAT_SECONDS, so a consumer can tell a
    quiet peer from a lost one."""
    loop = asyncio.get_running_loop()
    announced = 0.0  # when the caught-up state was last sent (0: not since the last events)
    while True:
        rows = await outbox.page(db, after, size)
        caught_up = len(rows) < size
        if rows:
            after = rows[-1].position
            chosen = [domain_event(service, r) for r in rows if not types or r.type in types]
            yield events_pb2.StreamEventsResponse(events=chosen, cursor=cursor_of(service, after), caught_up=caught_up)
            announced = loop.time() if caught_up else 0.0
        elif not announced or loop.time() - announced >= HEARTBEAT_SECONDS:
            yield events_pb2.StreamEventsResponse(cursor=cursor_of(service, after), caught_up=True)
            announced = loop.time()
        if not caught_up:
            continue
        if not follow:
            return
        await outbox.wait_for_events(poll_seconds())


async def refuse_cursor_ahead(service: str, db: Database, after: int) -> None:
    """A cursor past the stream's last event was issued by another database of this service (restored from
    an older backup, or replaced): its follower would wait for positions that hold other events here, or
    skip them. Refused, so the follower's operators reconcile instead of losing events without a word."""
    if after <= 0:
        return
    last = await outbox.head(db)
    if after > last:
        raise FailedPrecondition(
            "CURSOR_AHEAD_OF_STREAM",
            f"cursor {cursor_of(service, after)} is past the last event of this {service} stream "
            f"({cursor_of(service, last)}): it was issued by another database of the {service} service "
            "(restored or replaced); reconcile what the follower applied before following from an empty cursor",
            subject=f"stream/{service}",
        )


class EventsOpsServicer(events_pb2_grpc.EventsOpsServiceServicer):
    def __init__(self, service: str, db: Database, config: Callable[[], EventsConfig]) -> None:
        self.service, self.db, self.config = service, db, config

    async def StreamEvents(
        self, request: events_pb2.StreamEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[events_pb2.StreamEventsResponse]:
        after, size, types = check_stream_request(self.service, request)
        await refuse_cursor_ahead(self.service, self.db, after)
        async for response in pages(
            self.service,
            self.db,
            after,
            size,
            types,
            follow=request.follow,
            poll_seconds=lambda: self.config().poll_seconds,
        ):
            yield response
