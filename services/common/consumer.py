"""A consumer of a peer service's event stream, running as a worker inside the consuming service.

It follows the peer's StreamEvents from the cursor it stored and applies pages in units of work of the
write batcher: for every event, its id is claimed in `consumed_events` (an id already there is skipped:
delivered twice, it applies once), its effect is written, and the last page's cursor is stored, all in
the same transaction. A consumer killed anywhere resumes from the last unit committed and repeats
nothing; an event delivered again (a replayed page, a reset cursor, two replicas consuming) finds its id
taken.

The stream is read ahead while a unit of work commits (a few pages, so memory stays bounded): the pages
that arrived meanwhile are applied together in the next unit, up to `page_size` events (a page larger
than that alone). A peer that emits events faster than one commit each is followed at the cost of one
commit per batch of events instead of one per page, and a quiet peer's single events are applied at once.

A DomainError (e.g. the customer is not a member) drops that event's effect only, and the event is
recorded as consumed with the error's reason, so one bad event never blocks the stream: a batch is applied
without a savepoint per event, and one in which an event fails so is rolled back and applied again with
each event in its own savepoint. Anything else (the database is down) fails the page, which is retried.

The peer's address comes from the service's config (`events.peers.<peer>.address`), read before every
connection: empty, the consumer is off (and turns on when a reload sets it). A peer that is down or
unreachable is retried with a backoff of 0.5 s doubling to 30 s; the consuming service keeps serving and
catches up once the peer is back. A peer that stays silent past three heartbeats is reconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import grpc
import structlog
from sqlalchemy import MetaData, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.batching import WriteBatcher
from services.common.clock import Clock
from services.common.db import Database, UTCDateTime, insert_ignoring_conflicts
from services.common.errors import DomainError, Violations
from services.common.event_config import Peer
from services.common.event_schema import consumer_tables
from services.common.event_stream import HEARTBEAT_SECONDS, cursor_of, parse_cursor
from services.common.tls import TlsFiles, channel_credentials
from skylane.common.v1 import events_pb2, events_pb2_grpc

log = structlog.get_logger("skylane.consumer")

# What applying one event did: "applied", "ignored" (nothing to do for it), or a skip reason.
Handler = Callable[[AsyncSession, events_pb2.DomainEvent], Awaitable[str]]

OFF_RECHECK_SECONDS = 5.0
MIN_BACKOFF, MAX_BACKOFF = 0.5, 30.0
SILENCE_SECONDS = 3 * HEARTBEAT_SECONDS
READ_AHEAD_PAGES = 16  # pages received and not yet applied, at most

_CURSORS, _CONSUMED = consumer_tables(MetaData())


class _Careful(Exception):
    """An event of the batch could not be applied: the batch's unit is rolled back, to be applied again with
    each event in its own savepoint."""


class Skip(Exception):
    """Raised by a handler: its event's effect is rolled back and the event recorded as consumed with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Consumer:
    def __init__(
        self,
        *,
        peer: str,
        db: Database,
        writes: WriteBatcher,
        clock: Clock,
        settings: Callable[[], Peer | None],
        types: Callable[[], Collection[str]],
        handle: Handler,
    ) -> None:
        self.peer, self.db, self.writes, self.clock = peer, db, writes, clock
        self.settings, self.types, self.handle = settings, types, handle
        self.backoff = MIN_BACKOFF
        self.connected = False  # a stream to the peer is open (observable in tests)
        self._claim = insert_ignoring_conflicts(db.dialect, _CONSUMED).values(
            event_id=bindparam("p_id"), outcome="applied", consumed_at=bindparam("p_now", type_=UTCDateTime())
        )

    # --- the worker ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Follows the peer for as long as the service runs; never raises but on cancellation."""
        while True:
            settings, wanted = self.settings(), self.types()
            if settings is None or not settings.address or not wanted:
                await asyncio.sleep(OFF_RECHECK_SECONDS)
                continue
            try:
                await self.follow(settings, wanted)
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:  # the peer refuses our cursor: not an outage
                    log.error("peer_stream_refused", peer=self.peer, detail=exc.details(), retry_in_s=self.backoff)
                else:
                    log.warning("peer_stream_lost", peer=self.peer, code=exc.code().name, retry_in_s=self.backoff)
            except TimeoutError:
                log.warning("peer_stream_silent", peer=self.peer, retry_in_s=self.backoff)
            except Exception:
                log.exception("consumer_failed", peer=self.peer, retry_in_s=self.backoff)
            finally:
                self.connected = False
            await asyncio.sleep(self.backoff)
            self.backoff = min(self.backoff * 2, MAX_BACKOFF)

    async def follow(self, settings: Peer, types: Collection[str]) -> None:
        """One connection: streams from the stored cursor and applies every page until the stream ends."""
        async with _channel(settings) as channel:
            stub = events_pb2_grpc.EventsOpsServiceStub(channel)
            after = await self.position()
            request = events_pb2.StreamEventsRequest(
                cursor=cursor_of(self.peer, after) if after else "",
                page_size=settings.page_size,
                follow=True,
                types=sorted(types),
            )
            call = stub.StreamEvents(request)
            watchdog = _Watchdog(call, SILENCE_SECONDS)
            inbox = _Inbox(call, watchdog)
            try:
                self.connected = True
                async for pages in inbox.batches(settings.page_size):
                    await self.apply(pages)
                    self.backoff = MIN_BACKOFF
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not watchdog.fired or (task is not None and task.cancelling()):
                    raise  # the service is stopping, not the watchdog's doing
            finally:
                inbox.stop()
                watchdog.stop()
                call.cancel()
            if watchdog.fired:
                raise TimeoutError(f"the {self.peer} stream was silent for {SILENCE_SECONDS:.0f} s")

    # --- applying -----------------------------------------------------------------------------------

    async def apply(self, pages: Sequence[events_pb2.StreamEventsResponse]) -> int:
        """Applies consecutive pages and stores the furthest cursor in one unit of work; returns how many
        events took effect."""
        v = Violations()
        position = max((parse_cursor(self.peer, page.cursor, v) for page in pages), default=0)
        if v:
            raise ValueError(f"the {self.peer} stream sent a malformed cursor")
        events = [event for page in pages for event in page.events]

        def unit_of(careful: bool) -> Callable[[AsyncSession], Awaitable[int]]:
            async def unit(session: AsyncSession) -> int:
                now = self.clock.now()
                applied = 0
                for event in events:
                    claimed = await session.execute(self._claim, {"p_id": event.event_id, "p_now": now})
                    if claimed.rowcount != 1:  # type: ignore[attr-defined]
                        continue  # applied before: a second delivery has no effect
                    outcome = await self._apply_one(session, event, careful)
                    if outcome == "applied":
                        applied += 1
                    else:
                        await session.execute(
                            update(_CONSUMED).where(_CONSUMED.c.event_id == event.event_id).values(outcome=outcome[:32])
                        )
                await self._store(session, position, now)
                return applied

            return unit

        # Events are applied without a savepoint each (two statements per event saved), and in the rare
        # batch where one of them cannot be applied the unit is rolled back and applied again, each event
        # in its own savepoint, so only that event's effect is dropped.
        try:
            return await self.writes.run(unit_of(careful=False))
        except _Careful:
            return await self.writes.run(unit_of(careful=True))

    async def _apply_one(self, session: AsyncSession, event: events_pb2.DomainEvent, careful: bool) -> str:
        if not careful:
            try:
                return await self.handle(session, event)
            except (DomainError, Skip) as exc:
                raise _Careful from exc
        try:
            async with session.begin_nested():
                return await self.handle(session, event)
        except (DomainError, Skip) as exc:
            log.info("peer_event_skipped", peer=self.peer, event_id=event.event_id, type=event.type, reason=exc.reason)
            return exc.reason

    async def _store(self, session: AsyncSession, position: int, now: datetime) -> None:
        if position <= 0:
            return
        first = insert_ignoring_conflicts(self.db.dialect, _CURSORS).values(
            peer=self.peer, position=position, updated_at=now
        )
        if (await session.execute(first)).rowcount != 1:  # type: ignore[attr-defined]
            # Only forward: a replica that applied a later page first keeps its cursor.
            await session.execute(
                update(_CURSORS)
                .where(_CURSORS.c.peer == self.peer, _CURSORS.c.position < position)
                .values(position=position, updated_at=now)
            )

    async def position(self) -> int:
        """The peer stream position applied last (0: nothing yet)."""
        async with self.db.read() as session:
            found = (await session.execute(select(_CURSORS.c.position).where(_CURSORS.c.peer == self.peer))).scalar()
        return int(found or 0)


async def outcome_of(session: AsyncSession, event_id: str) -> str | None:
    """What applying an event did ("applied", "ignored", a skip reason), None when it was never consumed."""
    return (await session.execute(select(_CONSUMED.c.outcome).where(_CONSUMED.c.event_id == event_id))).scalar()


async def purge_consumed(session: AsyncSession, older_than: timedelta, now: datetime) -> int:
    """Forgets the ids of events consumed before `now - older_than` (their stream has purged them too)."""
    result = await session.execute(delete(_CONSUMED).where(_CONSUMED.c.consumed_at < now - older_than))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def read_peer(settings: Peer, types: Collection[str]) -> list[events_pb2.DomainEvent]:
    """Every event of `types` a peer keeps, oldest first, without following (a read, not a consumer: no
    cursor is stored, nothing is applied). For what-if reads such as rewards' dry run of triggers."""
    found: list[events_pb2.DomainEvent] = []
    async with _channel(settings) as channel:
        stub = events_pb2_grpc.EventsOpsServiceStub(channel)
        request = events_pb2.StreamEventsRequest(page_size=1000, types=sorted(types))
        async for page in stub.StreamEvents(request, timeout=SILENCE_SECONDS):
            found.extend(page.events)
    return found


# A consumer's own connection: gRPC shares connections between a process's channels to one address by
# default, so a consumer that tried its peer before the peer listened (the services of `serve all`, or of
# the demo, start one after another) would put that shared connection in reconnect backoff, and every other
# client in the process calling the peer would be refused UNAVAILABLE until the backoff ended.
_OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]


@contextlib.asynccontextmanager
async def _channel(settings: Peer) -> AsyncIterator[grpc.aio.Channel]:
    files = TlsFiles.of(settings.tls_cert, settings.tls_key, settings.tls_ca)
    if files.ca is None and files.cert is None:
        channel = grpc.aio.insecure_channel(settings.address, options=_OWN_CONNECTION)
    else:
        channel = grpc.aio.secure_channel(settings.address, channel_credentials(files), options=_OWN_CONNECTION)
    try:
        yield channel
    finally:
        await channel.close()


class _Inbox:
    """Reads a stream ahead in a task of its own, at most READ_AHEAD_PAGES pages, so that the pages that
    arrive while a unit of work commits are there to be applied together in the next one."""

    def __init__(self, call: Any, watchdog: _Watchdog) -> None:
        self.queue: asyncio.Queue[events_pb2.StreamEventsResponse] = asyncio.Queue(READ_AHEAD_PAGES)
        self.held: events_pb2.StreamEventsResponse | None = None  # taken from the queue, for the next batch
        self.reader = asyncio.create_task(self._read(call, watchdog))
        self.reader.add_done_callback(lambda task: task.cancelled() or task.exception())  # retrieved, if unread

    async def _read(self, call: Any, watchdog: _Watchdog) -> None:
        async for page in call:
            watchdog.heard()
            await self.queue.put(page)

    async def batches(self, limit: int) -> AsyncIterator[list[events_pb2.StreamEventsResponse]]:
        """Consecutive pages, as many as have arrived, up to `limit` events (a larger page alone); ends
        when the stream ends, raising what ended it."""
        while (first := await self._next()) is not None:
            pages, count = [first], len(first.events)
            while not self.queue.empty():
                page = self.queue.get_nowait()
                if count + len(page.events) > limit:
                    self.held = page
                    break
                pages.append(page)
                count += len(page.events)
            yield pages

    async def _next(self) -> events_pb2.StreamEventsResponse | None:
        if self.held is not None:
            page, self.held = self.held, None
            return page
        if self.queue.empty():
            getter = asyncio.ensure_future(self.queue.get())
            try:
                await asyncio.wait({getter, self.reader}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not getter.done():
                    getter.cancel()
            if not getter.done() or getter.cancelled():
                self.reader.result()  # the stream ended: its error (or cancellation), else the end
                return None
            return getter.result()
        return self.queue.get_nowait()

    def stop(self) -> None:
        self.reader.cancel()


class _Watchdog:
    """Cancels a stream that stays silent past `seconds` (a peer gone without closing the connection).
    A timer rather than a timeout around each read: cancelling a read of a grpc.aio stream from inside
    asyncio.wait_for can leave the cancelling task waiting forever."""

    def __init__(self, call: Any, seconds: float) -> None:
        self.call, self.seconds, self.fired = call, seconds, False
        self.loop = asyncio.get_running_loop()
        self.last = self.loop.time()
        self.timer = self.loop.call_later(seconds, self._check)

    def heard(self) -> None:
        self.last = self.loop.time()

    def _check(self) -> None:
        quiet = self.loop.time() - self.last
        if quiet >= self.seconds:
            self.fired = True
            self.call.cancel()
        else:
            self.timer = self.loop.call_later(self.seconds - quiet, self._check)

    def stop(self) -> None:
        self.timer.cancel()
