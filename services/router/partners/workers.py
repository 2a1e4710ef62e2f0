"""Background pass of the partner layer: lead delivery, calling the same use cases tests drive directly."""

from __future__ import annotations

import asyncio

import structlog

from services.router.partners.service.delivery import Dispatcher
from services.router.partners.service.desk import PartnerDesk
from services.router.partners.service.leads import Leads

log = structlog.get_logger("skylane.router.dispatcher")


async def deliver_leads(desk: PartnerDesk, leads: Leads, dispatcher: Dispatcher, refresh_every: int = 50) -> None:
    """Late selections, then what is due, then a poll interval's pause; every `refresh_every` rounds what
    other router replicas learned is taken in (desk.take_in: their new observations, applied once)."""
    rounds = 0
    while True:
        try:
            await leads.select_pending()
            await dispatcher.run_once()
            rounds += 1
            if rounds % refresh_every == 0:
                await desk.take_in()
        except asyncio.CancelledError:
            raise
        except Exception:  # a broken database moment must not kill the loop
            log.exception("dispatcher_round_failed")
        # Always pause: fewer, fuller rounds keep the single SQLite writer free for decisions.
        await asyncio.sleep(desk.config.delivery.poll_interval_ms / 1000)
