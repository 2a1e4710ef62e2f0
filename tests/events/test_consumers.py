"""The consumers inside growth and rewards, against real peer servers, through a proxy that replays the
whole stream on every connection and sends every page twice: each consumer is stopped mid-stream and
restarted twice, more events arrive while it runs, and every effect (points, growth, levels, verdicts)
happens exactly once. tests/events/test_consumer_kill.py does the same with SIGKILL to the consumer's
process."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from services.common.clock import ManualClock
from services.common.consumer import Consumer as ConsumerWorker
from skylane.common.v1 import events_pb2
from tests.events.consumer_cases import CASES, PEERS, Side, consumed
from tests.events.helpers import DuplicatingPeer, drain, eventually, peers_block
from tests.helpers import Harness, db_target_for, running_service


@asynccontextmanager
async def serving(build: Callable[..., Any], target: Any, path: Path, clock: ManualClock) -> AsyncIterator[Harness]:
    async with running_service(build, target, path, clock=clock) as h:
        yield h


@pytest.mark.parametrize("case", sorted(CASES))
async def test_a_consumer_killed_mid_stream_and_fed_every_event_twice_has_each_effect_once(
    engine: str, tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    peer_key, consumer, types = CASES[case]
    applied = count_applied_pages(monkeypatch)
    peer = PEERS[peer_key]
    peer_dir, consumer_dir = tmp_path / "peer", tmp_path / "consumer"
    peer_dir.mkdir()
    consumer_dir.mkdir()
    (peer_dir / "config.yaml").write_text(peer.config, encoding="utf-8")
    async with (
        db_target_for(engine, peer_dir, "peer") as peer_db,
        db_target_for(engine, consumer_dir, "consumer") as consumer_db,
        serving(peer.build, peer_db, peer_dir / "config.yaml", peer.clock()) as upstream,
    ):
        await peer.produce(upstream, 0)
        proxy = DuplicatingPeer(upstream.service.address, delay=0.02)
        config = consumer_dir / "config.yaml"
        config.write_text(consumer.config + peers_block(**{peer.name: proxy.address or await proxy.start()}))
        config.write_text(config.read_text().replace("{address:", "{page_size: 2, address:"))
        clock = consumer.clock()
        try:
            # Killed twice mid-stream (the service stopped while pages are being applied), then run to the end.
            for run, stop_at in enumerate((4, 8, None)):
                async with serving(consumer.build, consumer_db, config, clock) as h:
                    if run == 0:
                        await consumer.prepare(Side(h.channel, h.app.db))
                        proxy.opened.set()
                    if stop_at is not None:
                        await eventually(lambda h=h, n=stop_at: _at_least(h, n), what=f"{stop_at} events consumed")
                        continue
                    await peer.produce(upstream, 1)
                    wanted, _ = await drain(upstream.channel, types=types)
                    await eventually(lambda h=h, n=len(wanted): _at_least(h, n), what="every event consumed")
                    ids = [e.event_id for e in wanted]

                    async def twice(ids: list[str] = ids) -> bool:
                        return min(applied[i] for i in ids) >= 2

                    await eventually(twice, what="every event through the consumer twice")
                    outcomes = await consumed(Side(h.channel, h.app.db))
                    assert set(outcomes) == {e.event_id for e in wanted}
                    assert set(outcomes.values()) == {"applied"}
                    await consumer.verify(Side(h.channel, h.app.db))
            assert proxy.connections >= 3
            assert min(proxy.delivered[e.event_id] for e in wanted) >= 2  # every event reached it twice or more
        finally:
            await proxy.stop()


def count_applied_pages(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts, per event id, the pages a consumer finished applying that held it (duplicates included)."""
    seen: Counter[str] = Counter()
    original = ConsumerWorker.apply

    async def apply(self: ConsumerWorker, pages: Sequence[events_pb2.StreamEventsResponse]) -> int:
        done = await original(self, pages)
        seen.update(e.event_id for page in pages for e in page.events)
        return done

    monkeypatch.setattr(ConsumerWorker, "apply", apply)
    return seen


async def _at_least(h: Harness, n: int) -> bool:
    return len(await consumed(Side(h.channel, h.app.db))) >= n
