"""The journey across the three real servers, each with its own database, their consumers following each
other through proxies that replay the whole stream on every connection and send every page twice: a customer
is routed in-house and draws the loan (router), the drawdown earns points and growth value and the customer
reaches silver (growth), rewards keeps the level; a payroll credit ingested by rewards enters the payroll
trigger (silver customers only) and the customer receives the coupon, claims and redeems it; the redemption
earns growth its points and pushes the next product (wave 2) — every step in the funnel report. Growth and
rewards, and with them every consumer, are stopped and started again mid-way twice — in the process, or as
processes of their own killed with SIGKILL — and each effect happens once.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import text

from services.common.clock import ManualClock
from services.common.db import Database
from services.common.server import ServerOptions
from services.growth.app import build as build_growth
from services.rewards.app import build as build_rewards
from services.rewards.store.inputs import inputs_of
from services.router.app import build as build_router
from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from skylane.router.v1 import router_pb2, router_pb2_grpc
from tests.events.helpers import DuplicatingPeer, eventually, free_port
from tests.events.test_end_to_end import COUPON, GROWTH_CONFIG, LOAN
from tests.helpers import REPO, DbTarget, Harness, db_target_for, key, running_service
from tests.router.helpers import START
from tests.router.helpers import config_text as router_config
from tests.router.helpers import request as route_request

CUSTOMER = "journey-customer-7"
REWARDS_CONFIG = """
timezone: Asia/Shanghai
scenes: [mall]
contact: {per_day: 3, per_week: 5}
journey_pass_seconds: 0.2
campaigns:
  - id: payroll
    scenes: [mall]
    start: 2026-01-01T00:00:00+08:00
    end: 2026-03-01T00:00:00+08:00
    budget: {total_fen: 1000000, daily_fen: 1000000}
    arms: [{id: m100-10, threshold_fen: 10000, discount_fen: 1000, validity_days: 7}]
    holdout_share: 0.0
    conversion_value_fen: 10000
    priority: 5
  - id: wealth
    scenes: [mall]
    start: 2026-01-01T00:00:00+08:00
    end: 2026-03-01T00:00:00+08:00
    budget: {total_fen: 1000000, daily_fen: 1000000}
    arms: [{id: w200-20, threshold_fen: 20000, discount_fen: 2000, validity_days: 7}]
    holdout_share: 0.0
    conversion_value_fen: 10000
triggers:
  - id: payroll-silver
    campaign: payroll
    event: outside.payroll_credited
    when: {growth_levels: [silver]}
    risk: {exclude: [DECLINED], within_days: 30}
    validity_hours: 24
    exit_on: [rewards.coupon_redeemed]
  - id: wealth-next
    campaign: wealth
    wave: 2
    event: rewards.coupon_redeemed
    data: {campaign_id: payroll}
    next_product: wealth-first-purchase
"""
# Who consumes whom: growth earns from rewards and the router; rewards keeps growth's level and the router's
# verdict, and follows its own stream for the triggers.
FOLLOWS = {"growth": ("rewards", "router"), "rewards": ("growth", "router", "rewards")}


def cref(ref: str = CUSTOMER) -> types_pb2.CustomerRef:
    return types_pb2.CustomerRef(ref=ref)


@dataclass
class Suite:
    """Three servers on fixed ports, each consumer behind its own duplicating proxy."""

    tmp: Path
    engine: str
    ports: dict[str, int] = field(default_factory=lambda: {n: free_port() for n in ("router", "growth", "rewards")})
    targets: dict[str, DbTarget] = field(default_factory=dict)
    servers: dict[str, Harness] = field(default_factory=dict)
    stacks: dict[str, AsyncExitStack] = field(default_factory=dict)
    proxies: list[DuplicatingPeer] = field(default_factory=list)
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)
    killed: bool = False  # growth and rewards in processes of their own, killed with SIGKILL
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    dbs: dict[str, Database] = field(default_factory=dict)

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    async def configs(self) -> None:
        texts = {"router": router_config(), "growth": GROWTH_CONFIG, "rewards": REWARDS_CONFIG}
        for service, peers in FOLLOWS.items():
            lines = ["events:", "  poll_seconds: 0.2", "  peers:"]
            for peer in peers:
                proxy = DuplicatingPeer(self.address(peer))
                proxy.opened.set()
                self.proxies.append(proxy)
                lines.append(f"    {peer}: {{page_size: 2, address: '{await proxy.start()}'}}")
            texts[service] += "\n".join(lines) + "\n"
        for name, body in texts.items():
            (self.tmp / f"{name}.yaml").write_text(body, encoding="utf-8")

    def db(self, name: str) -> Database:
        return self.dbs[name] if name in self.dbs else self.servers[name].app.db

    async def start(self, name: str) -> None:
        if self.killed and name != "router":
            await self._spawn(name)
            return
        builds: dict[str, Any] = {"router": build_router, "growth": build_growth, "rewards": build_rewards}
        stack = self.stacks[name] = AsyncExitStack()
        options = ServerOptions(port=self.ports[name], metrics_port=None, config_poll_seconds=None, access_log=False)
        self.servers[name] = await stack.enter_async_context(
            running_service(
                builds[name], self.targets[name], self.tmp / f"{name}.yaml", clock=ManualClock(START), options=options
            )
        )

    async def _spawn(self, name: str) -> None:
        target = self.targets[name]
        args = [name, str(self.tmp / f"{name}.yaml"), target.url, "--clock", START.isoformat()]
        args += ["--port", str(self.ports[name]), *(["--schema", target.schema] if target.schema else [])]
        process = self.processes[name] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.events.service_process", *args, cwd=REPO,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert b"listening on" in line, f"{name} did not start: {line!r}"
        if name not in self.dbs:
            self.dbs[name] = Database(target.url, schema=target.schema, pool_size=2)

    async def _kill(self, name: str) -> None:
        """SIGKILL: no shutdown of any kind, whatever unit of work is open stays unfinished."""
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        await process.wait()

    async def restart(self, *names: str) -> None:
        """Stops the services (their consumers with them, wherever they are in their streams) and starts them
        again on the same databases and ports."""
        for name in names:
            await (self._kill(name) if name in self.processes else self.stacks[name].aclose())
            channel = self.channels.pop(name, None)
            if channel is not None:
                await channel.close()
        for name in names:
            await self.start(name)

    def stub(self, name: str) -> Any:
        stubs: dict[str, Any] = {
            "router": router_pb2_grpc.RouterServiceStub,
            "growth": growth_pb2_grpc.GrowthServiceStub,
            "rewards": rewards_pb2_grpc.RewardsServiceStub,
        }
        return stubs[name](self.channel(name))

    def channel(self, name: str) -> grpc.aio.Channel:
        """A channel of the test's own: gRPC shares connections to an address across a process's channels,
        and the proxies' attempts while a service was down leave the shared one backing off for a while."""
        channel = self.channels.get(name)
        if channel is None:
            options = [("grpc.use_local_subchannel_pool", 1)]
            channel = self.channels[name] = grpc.aio.insecure_channel(self.address(name), options=options)
        return channel


@asynccontextmanager
async def suite(engine: str, tmp_path: Path, killed: bool) -> AsyncIterator[Suite]:
    s = Suite(tmp_path, engine, killed=killed)
    async with AsyncExitStack() as outer:
        for name in ("router", "growth", "rewards"):
            s.targets[name] = await outer.enter_async_context(db_target_for(engine, tmp_path, name))
        await s.configs()
        try:
            for name in ("router", "growth", "rewards"):
                await s.start(name)
            yield s
        finally:
            for name in list(s.processes):
                await s._kill(name)
            for stack in s.stacks.values():
                await stack.aclose()
            for db in s.dbs.values():
                await db.dispose()
            for proxy in s.proxies:
                await proxy.stop()
            for channel in s.channels.values():
                await channel.close()


async def steps_of(s: Suite, trigger: str) -> list[tuple[int, str]]:
    async with s.db("rewards").read() as session:
        rows = await session.execute(
            text("SELECT entry, step FROM journey_steps WHERE trigger_id = :t AND customer_ref = :c ORDER BY at, step"),
            {"t": trigger, "c": CUSTOMER},
        )
        return [(int(e), str(st)) for e, st in rows]


async def has_step(s: Suite, trigger: str, step: str) -> bool:
    return any(st == step for _, st in await steps_of(s, trigger))


@pytest.mark.parametrize("killed", [False, True], ids=["stopped", "sigkill"])
async def test_the_journey_across_three_servers_has_every_effect_once(
    engine: str, tmp_path: Path, killed: bool
) -> None:
    async with suite(engine, tmp_path, killed) as s:
        growth = s.stub("growth")
        await growth.EnrollMember(growth_pb2.EnrollMemberRequest(idempotency_key=key(), customer=cref()))

        # Routed in-house; the bank's loan system reports the drawdown.
        decided = await s.stub("router").RouteApplicant(route_request(CUSTOMER, score=720))
        assert decided.destination == router_pb2.DESTINATION_IN_HOUSE
        await s.stub("router").RecordLoanDrawn(
            router_pb2.RecordLoanDrawnRequest(
                idempotency_key=key(), decision_id=decided.decision_id, amount=types_pb2.Money(fen=1_000_000)
            )
        )
        await s.restart("growth", "rewards")  # mid-way: the loan's events are in flight

        # The loan earns points and growth; the customer reaches silver, which rewards keeps.
        async def balance() -> growth_pb2.Balance:
            return await s.stub("growth").GetBalance(growth_pb2.GetBalanceRequest(customer=cref()))

        async def silver_kept() -> bool:
            async with s.db("rewards").read() as session:
                row = await inputs_of(session, CUSTOMER)
            return row is not None and row.growth_level == "silver" and row.risk_destination == "IN_HOUSE"

        await eventually(silver_kept, seconds=60, what="rewards to keep the level reached and the verdict")
        assert (await balance()).level == "silver"

        # A payroll credit: the silver customer enters the payroll journey and is touched.
        payroll = events_pb2.OutsideEvent(
            idempotency_key=key(),
            source="bank",
            type="payroll_credited",
            customer=cref(),
            attributes={"amount_fen": "800000"},
        )
        ingest = events_pb2_grpc.EventIngestServiceStub(s.channel("rewards"))
        await ingest.IngestEvents(events_pb2.IngestEventsRequest(idempotency_key=key(), events=[payroll]))
        await eventually(lambda: has_step(s, "payroll-silver", "TOUCHED"), seconds=60, what="the triggered touch")
        rewards = s.stub("rewards")
        pending = await rewards.ListPendingOffers(rewards_pb2.ListPendingOffersRequest(customer=cref()))
        (coupon_offer,) = [o for o in pending.offers if o.campaign_id == "payroll"]
        assert coupon_offer.wave == 1
        claimed = await rewards.Claim(
            rewards_pb2.ClaimRequest(idempotency_key=key(), customer=cref(), offer_id=coupon_offer.offer_id)
        )
        redeemed = await rewards.Redeem(
            rewards_pb2.RedeemRequest(
                idempotency_key=key(),
                customer=cref(),
                coupon_id=claimed.coupon.coupon_id,
                order_id="journey-order-1",
                order_amount=types_pb2.Money(fen=15_000),
                scene="mall",
            )
        )
        assert redeemed.discount.fen == 1000
        await s.restart("growth", "rewards")  # mid-way again: the redemption's events are in flight

        # The redemption ends the payroll journey, earns growth its points and pushes the next product.
        await eventually(lambda: has_step(s, "wealth-next", "TOUCHED"), seconds=60, what="the next product's touch")
        pending = await s.stub("rewards").ListPendingOffers(rewards_pb2.ListPendingOffersRequest(customer=cref()))
        assert [(o.campaign_id, o.wave) for o in pending.offers] == [("wealth", 2)]

        points, growth_value = LOAN[0] + COUPON[0], LOAN[1] + COUPON[1]

        async def earned() -> bool:
            return (await balance()).points_available >= points

        await eventually(earned, seconds=60, what="growth to earn from the loan and the redemption")

        # Every effect once, also after the proxies sent everything again on every reconnection, twice.
        await asyncio.sleep(1.0)
        assert all(min(p.delivered.values(), default=2) >= 2 for p in s.proxies)
        assert all(p.connections >= 2 for p in s.proxies)  # each consumer connected again after a restart
        final = await balance()
        assert (final.points_available, final.growth_total, final.level) == (points, growth_value, "silver")
        statement = await s.stub("growth").GetStatement(
            growth_pb2.GetStatementRequest(customer=cref(), page=types_pb2.PageRequest(page_size=50))
        )
        assert sorted(t.task_id for t in statement.history) == ["coupon_redeemed", "travel_loan_drawn"]
        assert await steps_of(s, "payroll-silver") == [(1, "ENTERED"), (1, "TOUCHED")]
        assert await steps_of(s, "wealth-next") == [(1, "ENTERED"), (1, "TOUCHED")]
        async with s.db("rewards").read() as session:
            made = await session.execute(
                text("SELECT campaign_id, wave FROM decisions WHERE customer_ref = :c ORDER BY decided_at"),
                {"c": CUSTOMER},
            )
            assert [(str(c), int(w)) for c, w in made] == [("payroll", 1), ("wealth", 2)]

        # Every step in the funnel.
        report = await s.stub("rewards").GetCampaignReport(rewards_pb2.GetCampaignReportRequest(campaign_id="payroll"))
        (funnel,) = report.journeys
        t = funnel.treated
        assert (t.reached, t.touched, t.claimed, t.redeemed, t.next_product) == (1, 1, 1, 1, 1)
        assert (funnel.screened, funnel.exited, funnel.reentry_blocked) == (0, 0, 0)
        wealth = await s.stub("rewards").GetCampaignReport(rewards_pb2.GetCampaignReportRequest(campaign_id="wealth"))
        (second,) = wealth.journeys
        assert (second.trigger_id, second.treated.reached, second.treated.touched) == ("wealth-next", 1, 1)
