"""Group commit under a steady stream of calls: concurrent RecordActivity calls share commits on SQLite.

With SQLite inline on the loop thread a batch never yields, so callers that arrive during one are still
inside gRPC when it ends; without the batcher's short arrival window every call would pay its own
commit. SQLite only: on PostgreSQL units commit on their own.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.growth.app import build
from tests.growth.helpers import Client, config
from tests.helpers import db_target_for, running_service

CALLERS, CALLS_EACH = 16, 15


async def test_concurrent_callers_share_commits(tmp_path: Path) -> None:
    path = tmp_path / "growth.yaml"
    path.write_text(config(), encoding="utf-8")
    async with db_target_for("sqlite", tmp_path, "growth") as target, running_service(build, target, path) as h:
        growth = Client(h)
        members = [await growth.enroll() for _ in range(CALLERS)]
        batcher = h.app.writes
        commits_before, units_before = batcher.commits, batcher.units

        async def caller(member: str) -> None:
            for _ in range(CALLS_EACH):
                await growth.record(member, "earn", points=10)

        await asyncio.gather(*(caller(m) for m in members))
        commits, units = batcher.commits - commits_before, batcher.units - units_before
        assert units == CALLERS * CALLS_EACH  # every call was one unit of work, none lost
        assert units / commits >= 2, f"{units} units in {commits} commits"
        for member in members:
            assert (await growth.balance(member)).points_available == 10 * CALLS_EACH
