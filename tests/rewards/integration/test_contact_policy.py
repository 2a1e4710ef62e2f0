"""The contact policy on real servers: caps across campaigns reset at local day and week boundaries,
concurrent offers never exceed a cap, quiet hours and opt-out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, key
from tests.rewards.helpers import cust, offer, rewards_service, stub

OFFERED, NOT_OFFERED = rewards_pb2.OFFERED, rewards_pb2.NOT_OFFERED


async def test_caps_hold_across_campaigns_and_reset_at_local_boundaries(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        got = [await offer(s, 1, scene) for scene in ("mall", "restaurant", "mall", "restaurant")]
        assert [r.outcome for r in got] == [OFFERED, OFFERED, OFFERED, NOT_OFFERED]
        assert got[3].reason == "CONTACT_CAP_DAY"
        # 23:59 local is still Monday.
        h.clock.set(datetime(2026, 1, 5, 15, 59, tzinfo=UTC))
        assert (await offer(s, 1, "restaurant")).reason == "CONTACT_CAP_DAY"
        # 00:00 Tuesday in Shanghai (16:00 UTC Monday): a new day, same week.
        h.clock.set(datetime(2026, 1, 5, 16, 0, tzinfo=UTC))
        tuesday = [await offer(s, 1, "restaurant") for _ in range(3)]
        assert [r.outcome for r in tuesday] == [OFFERED, OFFERED, NOT_OFFERED]
        assert tuesday[2].reason == "CONTACT_CAP_WEEK"
        # Sunday 23:59 local is still the same ISO week; Monday 00:00 local starts a new one.
        h.clock.set(datetime(2026, 1, 11, 15, 59, tzinfo=UTC))
        assert (await offer(s, 1, "restaurant")).reason == "CONTACT_CAP_WEEK"
        h.clock.set(datetime(2026, 1, 11, 16, 0, tzinfo=UTC))
        assert (await offer(s, 1, "restaurant")).outcome == OFFERED


async def test_concurrent_offers_never_exceed_the_daily_cap(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        results = await asyncio.gather(*(offer(s, 7, ("mall", "restaurant")[i % 2]) for i in range(12)))
        assert sum(r.outcome == OFFERED for r in results) == 3
        assert {r.reason for r in results if r.outcome != OFFERED} == {"CONTACT_CAP_DAY"}


async def test_quiet_hours_and_opt_out(db_target: DbTarget, tmp_path: Path) -> None:
    quiet = 'quiet_hours: {start: "22:00", end: "08:00"}'
    async with rewards_service(db_target, tmp_path, quiet=quiet) as h:
        s = stub(h)
        h.clock.set(datetime(2026, 1, 5, 14, 30, tzinfo=UTC))  # 22:30 local
        assert (await offer(s, 1)).reason == "QUIET_HOURS"
        h.clock.set(datetime(2026, 1, 6, 0, 0, tzinfo=UTC))  # 08:00 local
        assert (await offer(s, 1)).outcome == OFFERED
        await s.SetOptOut(rewards_pb2.SetOptOutRequest(idempotency_key=key(), customer=cust(1), opted_out=True))
        assert (await offer(s, 1)).reason == "OPTED_OUT"
