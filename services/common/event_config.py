"""The `events:` block of every service's config: retention, ingest deduplication and the peers consumed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.common.config import Schema

PeerName = Literal["router", "growth", "rewards"]


class Peer(Schema):
    """How to reach one peer service's event stream. An empty address turns its consumer off."""

    address: str = ""  # host:port, e.g. "rewards:50053" (SKYLANE_<SERVICE>__events__peers__rewards__address)
    page_size: int = Field(default=200, ge=1, le=1000)  # events applied per unit of work at most
    # TLS towards the peer (PEM paths); none: plaintext. With an ops allowlist on the peer, the
    # certificate's common name must be on it (StreamEvents is an ops method).
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""


class EventsConfig(Schema):
    retention_days: int = Field(default=30, ge=1)  # events, and the event ids consumers applied, kept this long
    ingest_dedupe_days: int = Field(default=8, ge=7)  # an outside event's key is remembered this long
    poll_seconds: float = Field(default=0.5, gt=0, le=60)  # a following stream re-reads at least this often
    peers: dict[PeerName, Peer] = Field(default_factory=dict)


def events_config(model: object) -> EventsConfig:
    """A service config's `events` block (the defaults when it has none)."""
    found = getattr(model, "events", None)
    return found if isinstance(found, EventsConfig) else EventsConfig()
