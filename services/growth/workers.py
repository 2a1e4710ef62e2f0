"""Background loops of the growth service: each repeats one maintenance pass (service/maintenance.py),
the same pass the RunMaintenance RPC runs; and the consumers of the peers' event streams
(service/peer_events.py), each off until its peer's address is configured."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from services.common.app import Worker
from services.common.consumer import Consumer
from services.growth.service.activity import TaskIndex
from services.growth.service.context import Runtime
from services.growth.service.maintenance import Maintenance
from services.growth.service.peer_events import activity_types, earn_from

PEERS = ("rewards", "router")  # whose events earn growth (config events.activities)

log = structlog.get_logger("skylane.growth.workers")


def loops(maintenance: Maintenance, interval: Callable[[], float]) -> list[Worker]:
    """One background loop per job, as ServiceApp.workers() expects; `interval` is read before every
    sleep, so a reloaded programme changes the pace without a restart."""
    return [
        _loop("expiry", maintenance.expire_once, interval),
        _loop("hold_timeouts", maintenance.timeout_holds_once, interval),
        _loop("expiry_warnings", maintenance.warn_once, interval),
        _loop("level_reviews", maintenance.review_once, interval),
    ]


def consumers(rt: Runtime) -> list[Consumer]:
    """One consumer per peer: rewards (redemptions, payments) and the router (in-house loans drawn)."""
    tasks = TaskIndex()
    return [
        Consumer(
            peer=peer,
            db=rt.db,
            writes=rt.writes,
            clock=rt.clock,
            settings=lambda peer=peer: rt.config.model.events.peers.get(peer),  # type: ignore[misc]
            types=lambda peer=peer: activity_types(rt, peer),  # type: ignore[misc]
            handle=earn_from(rt, tasks, peer),
        )
        for peer in PEERS
    ]


def gauges(refresh: Callable[[], Awaitable[None]], interval: float) -> Worker:
    """Reads the gauges that reflect the database (points liability, right stock) every `interval` seconds."""

    async def run() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await refresh()
            except asyncio.CancelledError:
                raise
            except Exception:  # the next pass retries
                log.exception("gauge_refresh_failed")

    return run


def _loop(name: str, job: Callable[[], Awaitable[int]], interval: Callable[[], float]) -> Worker:
    async def run() -> None:
        while True:
            # Sleep first: a pass at start-up would race tests that drive passes themselves.
            await asyncio.sleep(interval())
            try:
                count = await job()
                if count:
                    log.info("growth_job_pass", job=name, items=count)
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the loop alive; the next pass retries
                log.exception("growth_job_failed", job=name)

    return run
