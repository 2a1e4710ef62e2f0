"""Confirmed pending growth upgrades the level at once, like an award does (shipped config/growth.yaml)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.growth.app import build
from tests.growth.helpers import Client
from tests.helpers import REPO, DbTarget, running_service


@pytest.fixture
async def shipped(db_target: DbTarget, tmp_path: Path) -> AsyncIterator[Client]:
    """The growth service on the shipped configuration (blue 0, silver 1000 with a 1.1 multiplier)."""
    path = tmp_path / "growth.yaml"
    path.write_text((REPO / "config" / "growth.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    async with running_service(build, db_target, path) as h:
        yield Client(h)


async def _draw_travel_loan(growth: Client, ref: str) -> str:
    response = await growth.record(ref, "loan_drawn", product="travel_loan", amount_fen=500000)
    holds = {a.hold_id for a in response.awards if a.pending}
    assert len(holds) == 1, response
    return holds.pop()


async def test_confirmed_pending_growth_upgrades_at_once_and_the_next_award_uses_the_new_multiplier(
    shipped: Client,
) -> None:
    growth = shipped
    ref = await growth.enroll()
    await growth.record(ref, "wealth_purchase", amount_fen=200000)  # first-purchase bonus: growth 400
    first = await _draw_travel_loan(growth, ref)  # growth 300 + first-time 100, pending
    second = await _draw_travel_loan(growth, ref)  # growth 300, pending
    balance = await growth.balance(ref)
    assert (balance.growth_total, balance.level) == (400, "blue")

    await growth.confirm(first)
    assert (await growth.balance(ref)).level == "blue"  # 800 is still short of silver (1000)
    await growth.confirm(second)
    balance = await growth.balance(ref)
    assert (balance.growth_total, balance.level) == (1100, "silver")
    changed = [e for e in await growth.events(ref) if e.type == "level_changed"]
    assert [(e.data["from"], e.data["to"], e.data["why"]) for e in changed] == [("blue", "silver", "upgrade")]

    # The next award is made at silver: 80 points x 1.1.
    award = await growth.record(ref, "insurance_purchase")
    assert [(a.task_id, a.points) for a in award.awards] == [("insurance_purchase", 88)]
    assert award.level == "silver"


async def test_pending_growth_confirmed_on_timeout_upgrades_too(shipped: Client) -> None:
    growth = shipped
    ref = await growth.enroll()
    await growth.record(ref, "wealth_purchase", amount_fen=200000)
    await _draw_travel_loan(growth, ref)
    await _draw_travel_loan(growth, ref)
    growth.h.clock.advance(days=8)  # past the 7-day cooling-off: both holds confirm on timeout
    assert await growth.h.app.maintenance.timeout_holds_once() == 2
    balance = await growth.balance(ref)
    assert (balance.growth_total, balance.level) == (1100, "silver")
