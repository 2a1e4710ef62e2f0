"""Every consumer in a process of its own (tests/events/service_process.py), killed with SIGKILL mid-stream
and started again, against a real peer server behind a proxy that replays the whole stream on every
connection and sends every page twice: no graceful stop, the database left wherever the kill found it.

Twice the process is killed while the peer's first events are still coming (its page size is 2 and the
proxy paces the pages); then more events arrive, and once it applied them all it is killed a third time,
so the next connection's replay sends every event, twice, to a consumer that has applied it. A marker
event sent after that replay (one the consumer does not take: its stream position only) shows when the
consumer has gone past every duplicate. Then each event is consumed once, as applied, and every effect
(points, growth, levels, verdicts) happened exactly once.
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import grpc
import pytest
from sqlalchemy import text

from services.common.db import Database
from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from tests.events.consumer_cases import CASES, PEERS, Side, consumed
from tests.events.helpers import DuplicatingPeer, drain, eventually, peers_block
from tests.helpers import REPO, DbTarget, Harness, db_target_for, key, running_service

GENEROUS_S = 60.0  # process start-up and catching up take real time; no threshold is asserted on it


class ServiceProcess:
    """One service in its own process, started again after each kill on a new port, same database."""

    def __init__(self, service: str, config: Path, target: DbTarget, clock: datetime, logs: Path) -> None:
        self.service, self.config, self.target, self.clock, self.logs = service, config, target, clock, logs
        self.process: asyncio.subprocess.Process | None = None
        self.channel: grpc.aio.Channel | None = None
        self._drain: asyncio.Task[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.kills = 0

    async def start(self) -> grpc.aio.Channel:
        args = [self.service, str(self.config), self.target.url, "--clock", self.clock.isoformat()]
        args += ["--schema", self.target.schema] if self.target.schema else []
        self._log = (self.logs / f"{self.service}-{self.kills}.log").open("wb")
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.events.service_process",
            *args,
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
        )
        address = await asyncio.wait_for(self._listening(), GENEROUS_S)
        self.channel = grpc.aio.insecure_channel(address)
        return self.channel

    async def _listening(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        seen = b""
        while line := await self.process.stdout.readline():
            seen += line
            found = re.search(rb"listening on (\S+)", line)
            if found:
                self._drain = asyncio.create_task(self.process.stdout.read())  # a full pipe never stalls it
                return found.group(1).decode()
        raise AssertionError(f"the {self.service} process exited before serving: {seen.decode(errors='replace')}")

    async def kill(self) -> None:
        """SIGKILL: no shutdown of any kind, whatever unit of work is open stays unfinished."""
        assert self.process is not None
        if self.channel is not None:
            await self.channel.close()
        self.process.send_signal(signal.SIGKILL)
        assert await self.process.wait() == -signal.SIGKILL
        if self._drain is not None:
            await self._drain
        if self._log is not None:
            self._log.close()
        self.kills += 1

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.kill()


@asynccontextmanager
async def consumer_process(service: str, config: Path, target: DbTarget, clock: datetime) -> AsyncIterator[Any]:
    process = ServiceProcess(service, config, target, clock, config.parent)
    try:
        yield process
    finally:
        await process.stop()


async def stored_position(side: Side, peer: str) -> int:
    async with side.db.read() as session:
        found = await session.execute(text("SELECT position FROM consumer_cursors WHERE peer = :p"), {"p": peer})
        return int(found.scalar() or 0)


async def marker(upstream: Harness) -> int:
    """An outside event into the peer's stream (no consumer takes it): the stream position it ends at."""
    await events_pb2_grpc.EventIngestServiceStub(upstream.channel).IngestEvents(
        events_pb2.IngestEventsRequest(
            idempotency_key=key(),
            events=[
                events_pb2.OutsideEvent(
                    idempotency_key=key(),
                    source="test",
                    type="sign_in",
                    customer=types_pb2.CustomerRef(ref="marker-customer"),
                )
            ],
        )
    )
    _, cursor = await drain(upstream.channel)
    return int(cursor.rsplit(":", 1)[1])


@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_consumer_process_killed_with_sigkill_mid_stream_has_each_effect_once(
    engine: str, tmp_path: Path, case: str
) -> None:
    peer_key, consumer, types = CASES[case]
    service, peer = case.split("<-")[0], PEERS[peer_key]
    peer_dir, consumer_dir = tmp_path / "peer", tmp_path / "consumer"
    peer_dir.mkdir()
    consumer_dir.mkdir()
    (peer_dir / "config.yaml").write_text(peer.config, encoding="utf-8")
    async with (
        db_target_for(engine, peer_dir, "peer") as peer_db,
        db_target_for(engine, consumer_dir, "consumer") as consumer_db,
        running_service(peer.build, peer_db, peer_dir / "config.yaml", clock=peer.clock()) as upstream,
    ):
        await peer.produce(upstream, 0)
        first, _ = await drain(upstream.channel, types=types)
        proxy = DuplicatingPeer(upstream.service.address, delay=0.05)
        config = consumer_dir / "config.yaml"
        block = peers_block(**{peer.name: await proxy.start()}).replace("{address:", "{page_size: 2, address:")
        config.write_text(consumer.config + block, encoding="utf-8")
        db = Database(consumer_db.url, schema=consumer_db.schema, pool_size=2)
        try:
            async with consumer_process(service, config, consumer_db, consumer.clock().now()) as process:
                side = Side(await process.start(), db)
                await consumer.prepare(side)
                proxy.opened.set()

                # Killed twice while the first events are still coming.
                at_kill = []
                for stop_at in (4, 8):
                    await eventually(lambda s=side, n=stop_at: _at_least(s, n), GENEROUS_S, f"{stop_at} consumed")
                    await process.kill()
                    at_kill.append(len(await consumed(side)))
                    side = Side(await process.start(), db)
                assert max(at_kill) < len(first), "each kill came mid-stream"

                # More events while it runs; all of them applied.
                await peer.produce(upstream, 1)
                wanted, _ = await drain(upstream.channel, types=types)
                ids = {e.event_id for e in wanted}
                await eventually(lambda: _at_least(side, len(ids)), GENEROUS_S, "every event consumed")

                # Killed once more with everything applied: the next connection replays it all, twice.
                sent = dict(proxy.delivered)
                await process.kill()
                side = Side(await process.start(), db)

                async def replayed() -> bool:
                    return all(proxy.delivered[i] >= sent[i] + 2 for i in ids)

                await eventually(replayed, GENEROUS_S, "the whole stream sent again, twice")
                end = await marker(upstream)

                async def past_marker() -> bool:
                    return await stored_position(side, peer.name) >= end

                await eventually(past_marker, GENEROUS_S, "the consumer past every duplicate")

                outcomes = await consumed(side)
                assert set(outcomes) == ids
                assert set(outcomes.values()) == {"applied"}
                assert process.kills == 3 and proxy.connections >= 4
                await consumer.verify(side)
        finally:
            await db.dispose()
            await proxy.stop()


async def _at_least(side: Side, n: int) -> bool:
    return len(await consumed(side)) >= n
