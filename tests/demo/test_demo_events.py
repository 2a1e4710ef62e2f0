"""`skylane demo` with growth following the router and rewards (peer addresses set, as in a deployment): the
demo records each loan drawn and card payment in growth itself and reports each drawdown to the router, so
the router's `loan_drawn` and rewards' `payment_recorded` reach growth's consumers too. Each loan and
payment still earns once: growth holds one activity per loan drawn and per card payment, the demo's, and
none from a peer's event; a coupon redeemed, which the demo does not record itself, earns from rewards'
event, once (a customer who is not a member earns nothing)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import text

from services.common.logging import configure_logging
from services.demo.app import Suite
from services.demo.service.run import DemoOptions, run_demo
from tests.events.helpers import drain, eventually
from tests.helpers import REPO

# Growth follows both peers, as in compose.yaml; the demo points every peer at its own servers, so these
# addresses are placeholders only.
PEERS = {"events": {"peers": {"router": {"address": "router:1"}, "rewards": {"address": "rewards:1"}}}}


async def caught_up(suite: Suite) -> None:
    """Waits until growth's consumer of rewards stored the end of rewards' stream as its cursor (growth takes
    nothing from the router in the demo: that consumer is off)."""
    ends = {}
    for peer in ("rewards",):
        async with grpc.aio.insecure_channel(suite.address(peer)) as channel:
            _, cursor = await drain(channel)
        ends[peer] = int(cursor.rsplit(":", 1)[1])

    async def there() -> bool:
        async with suite.services["growth"].app.db.read() as session:
            rows = await session.execute(text("SELECT peer, position FROM consumer_cursors"))
            stored = {str(peer): int(position) for peer, position in rows}
        return all(stored.get(peer, 0) >= end for peer, end in ends.items())

    await eventually(there, 60, "growth's consumer at the end of rewards' stream")


def test_with_growth_following_its_peers_each_loan_and_payment_earns_once(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    async def after(suite: Suite, report: dict[str, Any]) -> None:
        await caught_up(suite)
        async with suite.services["growth"].app.db.read() as session:
            rows = await session.execute(text("SELECT source, type FROM activities"))
            seen["activities"] = Counter((str(source), str(kind)) for source, kind in rows)
            rows = await session.execute(text("SELECT outcome FROM consumed_events"))
            seen["consumed"] = Counter(str(outcome) for (outcome,) in rows)
        async with suite.services["router"].app.db.read() as session:
            seen["router_loans"] = (
                await session.execute(text("SELECT count(*) FROM events WHERE type = 'loan_drawn'"))
            ).scalar_one()
        seen["report"] = report

    options = DemoOptions(
        seed=7, day=date(2025, 6, 15), customers=50, applicants=12, config_dir=REPO / "config", var_dir=tmp_path,
        partner_scenario=REPO / "config" / "scenarios" / "partners.yaml", overrides={"growth": PEERS},
    )  # fmt: skip
    with (tmp_path / "services.log").open("w", encoding="utf-8") as log:
        configure_logging("warning", stream=log, cache=False)
        try:
            asyncio.run(run_demo(options, after=after))
        finally:
            configure_logging("warning", cache=False)

    activities, report = seen["activities"], seen["report"]
    assert report["checks"]["unexpected_errors"] == {}
    drawn, redeemed = report["routing"]["in_house"]["drawn"], report["coupons"]["redeemed"]
    assert drawn > 0 and redeemed > 0
    assert seen["router_loans"] == drawn  # the router's loan_drawn events exist: growth was sent them
    # Every redemption consumed once: a member's earned (an activity), a non-member's earned nothing.
    assert sum(seen["consumed"].values()) == redeemed
    assert set(seen["consumed"]) <= {"applied", "MEMBER_NOT_FOUND"} and seen["consumed"]["applied"] > 0
    from_peers = {kind: n for (source, kind), n in activities.items() if source.endswith("-events")}
    assert from_peers == {"coupon_redeemed": seen["consumed"]["applied"]}  # no loan or payment from a peer
