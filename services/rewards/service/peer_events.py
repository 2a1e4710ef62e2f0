"""What rewards keeps from its peers' events (the consumers in workers.py), as inputs for segments and
eligibility: each customer's growth level (growth's level_changed) and the router's latest risk verdict
(decision_made: tier, destination, reason codes such as knock-outs). Kept forward-only by stream
position (store/inputs.py), so a replayed or repeated event changes nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import UTC

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.consumer import Handler
from services.common.errors import Violations
from services.common.event_stream import parse_cursor
from services.rewards.domain.profile import Profile
from services.rewards.runtime import ConfigView
from services.rewards.store import inputs
from skylane.common.v1 import events_pb2

TYPES: dict[str, Collection[str]] = {"growth": ("level_changed",), "router": ("decision_made",)}


def _position(peer: str, event: events_pb2.DomainEvent) -> int:
    v = Violations()
    position = parse_cursor(peer, event.cursor, v)
    if v or position <= 0:
        raise ValueError(f"the {peer} stream sent an event without a valid cursor")
    return position


def keep_inputs(peer: str, dialect: str) -> Handler:
    """The consumer's handler for one peer's events."""

    async def handle(session: AsyncSession, event: events_pb2.DomainEvent) -> str:
        customer, at, data = event.customer.ref, event.occurred_at.ToDatetime(tzinfo=UTC), event.data
        if peer == "growth" and event.type == "level_changed" and data.get("to"):
            changed = await inputs.keep_level(session, dialect, customer, data["to"], _position(peer, event), at)
        elif peer == "router" and event.type == "decision_made":
            changed = await inputs.keep_verdict(
                session,
                dialect,
                customer,
                tier=data.get("tier", ""),
                destination=data.get("destination", ""),
                reasons=data.get("reasons", ""),
                position=_position(peer, event),
                at=at,
            )
        else:
            return "ignored"
        return "applied" if changed else "superseded"

    return handle


_USES: dict[str, bool] = {}  # config version → whether a segment or eligibility rule reads the kept inputs


def uses_inputs(view: ConfigView) -> bool:
    """Whether the running config's rules read the growth level or the risk verdict (else Offer skips the read)."""
    found = _USES.get(view.version)
    if found is None:
        rules = [s.when for s in view.cfg.segments] + [c.eligibility for c in view.cfg.campaigns]
        found = _USES[view.version] = any(r.growth_levels or r.excluded_risk for r in rules)
    return found


async def with_inputs(conn: AsyncConnection, customer: str, profile: Profile) -> Profile:
    """The profile with the customer's kept growth level and risk verdict (empty when none was kept)."""
    kept = await inputs.inputs_of(conn, customer)
    if kept is None:
        return profile
    return dataclasses.replace(
        profile,
        growth_level=kept.growth_level or "",
        risk_destination=kept.risk_destination or "",
        risk_tier=kept.risk_tier or "",
    )
