"""Recovery from a partner outage: the partner lender is `skylane partner-sim` in its own process, killed and
started again on the same port, while pool leads go through a real router server (RouteApplicant).

Two things can keep leads away from a partner that is back: the router's gRPC channel waiting out its
reconnect backoff (every ping failing instantly with UNAVAILABLE), then the circuit breaker's open period
(CIRCUIT_OPEN). The breaker runs on the app's injected clock, so the test moves its open
period by hand; the channel's re-dial is real time, so the test polls for it (generous timeout, no
threshold asserted: bench/partner_recovery.py measures how long it takes).
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import yaml

from services.common.clock import ManualClock
from services.router.app import build
from services.router.partners import store
from services.router.partners.domain import CHOSEN, CIRCUIT_OPEN, ERROR
from skylane.router.v1 import leads_pb2
from tests.helpers import REPO, DbTarget, running_service
from tests.router.helpers import START, config_text
from tests.router.partners.helpers import Stack, applicant, partner_entry

PARTNER = "comeback"
QUEUED = 7  # leads chosen while the partner is up and posted after it went down
GENEROUS_S = 60.0  # how long to wait for things that take real time (process start, channel re-dial)

T = TypeVar("T")


class PartnerProcess:
    """`skylane partner-sim` serving one partner in its own process; killed and started again at will."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.process: asyncio.subprocess.Process | None = None
        self._drain: asyncio.Task[bytes] | None = None
        self.starts = 0

    async def start(self, port: int = 0) -> int:
        """Starts the process on port (0: any free one) and returns the port it listens on."""
        self.starts += 1
        scenario = self.directory / f"scenario-{self.starts}.yaml"
        spec = {"id": PARTNER, "port": port, "bid_fen": 3000, "bid_spread": 0.0, "accept_rate": 1.0, "latency_ms": 0}
        scenario.write_text(yaml.safe_dump({"partners": [spec]}), encoding="utf-8")
        args = ["-m", "services.cli", "partner-sim", "--scenario", str(scenario), "--no-postbacks"]
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        return await asyncio.wait_for(self._listening_port(), GENEROUS_S)

    async def _listening_port(self) -> int:
        assert self.process is not None and self.process.stdout is not None
        seen = b""
        while line := await self.process.stdout.readline():
            seen += line
            found = re.search(rb"listening on \S+:(\d+)", line)
            if found:
                # Keep reading what it prints, so a full pipe can never stall the partner.
                self._drain = asyncio.create_task(self.process.stdout.read())
                return int(found.group(1))
        raise AssertionError(f"partner-sim exited before listening: {seen.decode(errors='replace')}")

    async def kill(self) -> None:
        """SIGKILL: the partner vanishes mid-flight, no graceful shutdown, its connections reset."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        if self._drain is not None:
            await self._drain

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            await self.kill()


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Polls probe until it returns something; fails after a generous real-time timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + GENEROUS_S
    while loop.time() < deadline:
        found = await probe()
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {GENEROUS_S:.0f} s: {what}")


@asynccontextmanager
async def router_for(db_target: DbTarget, tmp_path: Path, endpoint: str) -> AsyncIterator[Stack]:
    """A real router server with one partner lender, production breaker and reconnect defaults; the test
    drives the dispatcher and the clock."""
    config = {"partners": {"delivery": {"background": False}, "lenders": [partner_entry(PARTNER, endpoint)]}}
    base_text = config_text(stickiness_hours=0)
    path = tmp_path / "router.yaml"
    path.write_text(base_text + yaml.safe_dump(config), encoding="utf-8")
    async with running_service(build, db_target, path, clock=ManualClock(START)) as harness:
        yield Stack(harness, {}, config, path, base_text)


async def trace_of(stack: Stack, lead_id: str) -> leads_pb2.LeadTrace:
    return await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=lead_id))


async def circuit(stack: Stack) -> str:
    report = await stack.leads.GetPartnerReport(leads_pb2.GetPartnerReportRequest(partner_id=PARTNER))
    return str(report.partners[0].circuit)


async def test_leads_flow_to_a_partner_again_once_it_is_back(db_target: DbTarget, tmp_path: Path) -> None:
    partner = PartnerProcess(tmp_path)
    port = await partner.start()
    try:
        async with router_for(db_target, tmp_path, f"127.0.0.1:{port}") as stack:
            await _outage_and_recovery(stack, partner, port)
    finally:
        await partner.stop()


async def _outage_and_recovery(stack: Stack, partner: PartnerProcess, port: int) -> None:
    delivery = stack.desk.config.delivery
    # Up: leads are sold to it and delivered.
    sold = await stack.route(applicant())
    assert sold.partner_id == PARTNER
    await stack.drain()
    assert (await trace_of(stack, sold.lead_id)).status == store.POSTED
    queued = [await stack.route(applicant()) for _ in range(QUEUED)]
    assert all(r.partner_id == PARTNER for r in queued)

    await partner.kill()
    # Down: its pings fail (the lead goes unsold), its posts fail until the circuit opens, the rest wait.
    failed = await stack.route(applicant())
    assert failed.partner_id == "" and [(e.status, e.detail) for e in failed.trace] == [
        (ERROR, "partner error UNAVAILABLE")
    ]
    opens_after = delivery.breaker_failures
    assert await stack.dispatcher.run_once() == {"failed": opens_after, "skipped": QUEUED - opens_after}
    assert await circuit(stack) == "OPEN"
    deferred = await stack.route(applicant())
    assert deferred.partner_id == "" and [e.status for e in deferred.trace] == [CIRCUIT_OPEN]
    # Its open period passes while it is still down: the channel cannot reach it, so the probe is put off
    # for another open period instead of spending a lead's attempt; every post waits.
    stack.clock.advance(milliseconds=delivery.breaker_cooldown_ms)
    assert await stack.dispatcher.run_once() == {"skipped": QUEUED}
    assert await circuit(stack) == "OPEN"
    attempts = [d.attempts for r in queued for d in (await trace_of(stack, r.lead_id)).deliveries]
    assert sum(attempts) == opens_after  # only the posts that opened the circuit were charged

    # Back on the same port. The breaker's clock has not moved, so its circuit still holds the partner out.
    assert await partner.start(port) == port
    held = await stack.route(applicant())
    assert [e.status for e in held.trace] == [CIRCUIT_OPEN]
    assert await stack.dispatcher.run_once() == {}  # nothing due: the deferred posts wait for the probe

    # Its open period passes: the circuit half-opens and pings reach the partner as soon as the channel
    # has re-dialled it.
    stack.clock.advance(milliseconds=delivery.breaker_cooldown_ms)
    assert await circuit(stack) == "HALF_OPEN"

    async def offered_to_partner() -> str | None:
        result = await stack.route(applicant())
        return result.lead_id if result.partner_id == PARTNER else None

    back = await eventually(offered_to_partner, "a lead offered to the partner that is back")
    assert [e.status for e in (await trace_of(stack, back)).entries] == [CHOSEN]
    # One round: the probe succeeds, the circuit closes and the queue drains behind it — the new lead and
    # every deferred one (all due at the half-open moment).
    assert await stack.dispatcher.run_once() == {"accepted": QUEUED + 1}
    assert await circuit(stack) == "CLOSED"
    for lead_id in [back, *(r.lead_id for r in queued)]:
        trace = await trace_of(stack, lead_id)
        assert trace.status == store.POSTED
        assert [d.status for d in trace.deliveries] == [store.DELIVERED]
