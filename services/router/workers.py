"""Background passes of the router, each calling the same use cases the RPCs call.

- policy refresh: picks up policy changes made through another process's ops RPCs;
- gauge refresh: the metrics read from the database (dead letters) and every partner's circuit state;
- partner delivery (partners/workers.py): late selections and the lead outbox.
"""

from __future__ import annotations

import asyncio

import structlog

from services.router.partners.service.desk import PartnerDesk
from services.router.partners.service.telemetry import PartnerTelemetry
from services.router.service.policies import PolicyController

log = structlog.get_logger("skylane.router.workers")


async def refresh_policies(policies: PolicyController, interval: float) -> None:
    """Every `interval` seconds, installs the policy state another process changed."""
    while True:
        await asyncio.sleep(interval)
        try:
            await policies.refresh()
        except Exception:  # a failed poll must not kill the loop; the next one retries
            log.exception("policy_refresh_failed")


async def refresh_gauges(telemetry: PartnerTelemetry, desk: PartnerDesk, interval: float) -> None:
    """Every `interval` seconds, reads the gauges that reflect the database (one grouped count)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await telemetry.refresh(desk)
        except Exception:  # the next pass retries
            log.exception("gauge_refresh_failed")
