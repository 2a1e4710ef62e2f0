"""Background loops of the growth service: each repeats one maintenance pass (service/maintenance.py),
the same pass the RunMaintenance RPC runs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from services.common.app import Worker
from services.growth.service.maintenance import Maintenance

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
