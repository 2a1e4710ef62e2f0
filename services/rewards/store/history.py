"""Reads of what happened, for the dry run of triggers (service/dry_run.py) and the follow-up export: the
recorded events of rewards' own stream, the touches made (requested offers, fallback waves, triggered
touches), and what was kept per customer (time zone, holdout group, growth level, risk verdict, opt-out).
Read-only: nothing here writes."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.rewards.domain import journey
from services.rewards.domain.journey_replay import Recorded, RecordedTouch
from services.rewards.models import Base
from services.rewards.store.tables import assignments, contacts, decisions, journey_steps, journeys

_events = Base.metadata.tables["events"].c
_zones = Base.metadata.tables["customer_zones"].c
_inputs = Base.metadata.tables["customer_inputs"].c
_d, _s, _a, _c, _j = decisions.c, journey_steps.c, assignments.c, contacts.c, journeys.c
CHUNK = 500  # customers per IN (...) read


def _chunks(items: Collection[str]) -> Iterator[list[str]]:
    ordered = sorted(items)
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


async def own_events(session: AsyncSession, since: datetime, until: datetime, types: Collection[str]) -> list[Recorded]:
    """Rewards' own stream (its events and the outside events ingested here) of the given stream types,
    committed in [since, until], oldest first, named as triggers name them."""
    if not types:
        return []
    rows = await session.execute(
        select(_events.occurred_at, _events.type, _events.customer, _events.data)
        .where(_events.occurred_at >= since, _events.occurred_at <= until, _events.type.in_(sorted(types)))
        .order_by(_events.seq)
    )
    return [Recorded(at, journey.qualified("rewards", str(t)), str(c), json.loads(d)) for at, t, c, d in rows]


async def touches(
    session: AsyncSession, since: datetime, until: datetime, replayed: Collection[str]
) -> list[RecordedTouch]:
    """Touches made in [since, until]: requested offers and fallback waves shown, and the touches of the
    triggers that are not replayed (those of `replayed` are the replay's to make)."""
    made = await session.execute(
        select(_d.decided_at, _d.customer_ref, _d.wave, _d.reason).where(
            _d.outcome == "OFFERED", _d.decided_at >= since, _d.decided_at <= until
        )
    )
    found = [
        RecordedTouch(at, str(c), "REQUESTED" if not wave else "FALLBACK")
        for at, c, wave, reason in made
        if not wave or str(reason).startswith("FALLBACK_WAVE_")
    ]
    triggered = await session.execute(
        select(_s.at, _s.customer_ref).where(
            _s.step == journey.TOUCHED,
            _s.at >= since,
            _s.at <= until,
            _s.trigger_id.not_in(sorted(replayed)) if replayed else _s.trigger_id.is_not(None),
        )
    )
    found += [RecordedTouch(at, str(c), "TRIGGERED") for at, c in triggered]
    return sorted(found, key=lambda t: t.at)


async def zones(session: AsyncSession, customers: Collection[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(customers):
        rows = await session.execute(select(_zones.customer, _zones.zone).where(_zones.customer.in_(chunk)))
        found.update({str(c): str(z) for c, z in rows})
    return found


async def groups(
    session: AsyncSession, campaigns: Collection[str], customers: Collection[str]
) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for chunk in _chunks(customers):
        rows = await session.execute(
            select(_a.campaign_id, _a.customer_ref, _a.grp).where(
                _a.campaign_id.in_(sorted(campaigns)), _a.customer_ref.in_(chunk)
            )
        )
        found.update({(str(k), str(c)): str(g) for k, c, g in rows})
    return found


async def inputs(session: AsyncSession, customers: Collection[str]) -> list[Any]:
    """(customer, growth level, its time, risk destination, tier, reasons, verdict time) kept per customer."""
    found: list[Any] = []
    for chunk in _chunks(customers):
        rows = await session.execute(
            select(
                _inputs.customer_ref,
                _inputs.growth_level,
                _inputs.growth_at,
                _inputs.risk_destination,
                _inputs.risk_tier,
                _inputs.risk_reasons,
                _inputs.risk_at,
            ).where(_inputs.customer_ref.in_(chunk))
        )
        found += list(rows.all())
    return found


async def opted_out(session: AsyncSession, customers: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(set(customers)):
        rows = await session.execute(select(_c.customer_ref).where(_c.opted_out.is_(True), _c.customer_ref.in_(chunk)))
        found.update(str(c) for (c,) in rows)
    return found


async def follow_ups(
    session: AsyncSession,
    since: datetime,
    until: datetime | None,
    campaign: str,
    trigger: str,
    after: tuple[datetime, str, str, int] | None,
    limit: int,
) -> list[Any]:
    """(at, trigger, customer, entry, step, detail, campaign) of FOLLOW_UP and ROUTED steps in [since,
    until) (no `until`: up to now), in (at, trigger, customer, entry) order, after the key `after`."""
    query = select(_s.at, _s.trigger_id, _s.customer_ref, _s.entry, _s.step, _s.detail, _s.campaign_id).where(
        _s.step.in_([journey.FOLLOW_UP, journey.ROUTED]), _s.at >= since
    )
    if until is not None:
        query = query.where(_s.at < until)
    if campaign:
        query = query.where(_s.campaign_id == campaign)
    if trigger:
        query = query.where(_s.trigger_id == trigger)
    if after is not None:
        at, t, c, e = after
        query = query.where(
            (_s.at > at)
            | and_(_s.at == at, _s.trigger_id > t)
            | and_(_s.at == at, _s.trigger_id == t, _s.customer_ref > c)
            | and_(_s.at == at, _s.trigger_id == t, _s.customer_ref == c, _s.entry > e)
        )
    order = (_s.at, _s.trigger_id, _s.customer_ref, _s.entry)
    return list((await session.execute(query.order_by(*order).limit(limit))).all())


async def last_deferrals(
    session: AsyncSession, keys: Collection[tuple[str, str, int]]
) -> dict[tuple[str, str, int], str]:
    """The reason each entry's touch first waited for (its DEFERRED step), if it did."""
    found: dict[tuple[str, str, int], str] = {}
    for chunk in _chunks({c for _, c, _ in keys}):
        rows = await session.execute(
            select(_s.trigger_id, _s.customer_ref, _s.entry, _s.detail).where(
                _s.step == journey.DEFERRED, _s.customer_ref.in_(chunk)
            )
        )
        found.update({(str(t), str(c), int(e)): str(d) for t, c, e, d in rows if (str(t), str(c), int(e)) in keys})
    return found
