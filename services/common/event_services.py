"""What every server gets for events: StreamEvents and IngestEvents registered behind the edge, and the
hourly upkeep that purges what is past its retention (services/common/server.py wires both in)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog

from services.common import outbox
from services.common.app import ServiceApp
from services.common.consumer import purge_consumed
from services.common.event_config import events_config
from services.common.event_stream import EventsOpsServicer
from services.common.ingest import EventIngestServicer, Ingest, purge_keys
from skylane.common.v1 import events_pb2, events_pb2_grpc

log = structlog.get_logger("skylane.events")

UPKEEP_SECONDS = 3600.0


def add_event_services(app: ServiceApp, server: Any) -> list[str]:
    """Registers StreamEvents and IngestEvents for `app`; returns their full service names."""
    events_pb2_grpc.add_EventsOpsServiceServicer_to_server(
        EventsOpsServicer(app.name, app.db, lambda: events_config(app.config.model)), server
    )
    ingest = Ingest(app.name, app.write, app.clock, app.db.dialect, lambda: str(app.config.model.timezone))
    events_pb2_grpc.add_EventIngestServiceServicer_to_server(EventIngestServicer(ingest), server)
    services = events_pb2.DESCRIPTOR.services_by_name
    return [services["EventsOpsService"].full_name, services["EventIngestService"].full_name]


async def upkeep_once(app: ServiceApp) -> tuple[int, int, int]:
    """Purges events, consumed event ids and outside events' keys past their retention; returns the counts."""
    cfg, now = events_config(app.config.model), app.clock.now()
    retention = timedelta(days=cfg.retention_days)
    events = await outbox.purge(app.db, retention, now)
    async with app.db.transaction() as session:
        consumed = await purge_consumed(session, retention, now)
        keys = await purge_keys(session, timedelta(days=cfg.ingest_dedupe_days), now)
    return events, consumed, keys


async def upkeep(app: ServiceApp, every_seconds: float = UPKEEP_SECONDS) -> None:
    while True:
        await asyncio.sleep(every_seconds)
        try:
            events, consumed, keys = await upkeep_once(app)
            log.info("events_purged", events=events, consumed_ids=consumed, ingest_keys=keys)
        except Exception:
            log.exception("events_purge_failed")
