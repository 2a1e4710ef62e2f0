"""SQL for partner leads: cap reservations, the outbox, estimates, outcomes and report figures.

Every counter here moves by one conditional statement inside the transaction that carries its effect:
a cap reservation is an upsert that only increments while used + 1 <= cap, a return is only counted
while returned + 1 <= share × accepted.
"""

from __future__ import annotations

import json
from collections.abc import Container, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Integer, Table, and_, bindparam, case, delete, func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import dialect_insert
from services.common.point_reads import ReadSession
from services.router.partners.domain import BetaCounts, Consent, EstimateBook, LeadApplicant, TraceEntry
from services.router.partners.estimates import Observation
from services.router.partners.models import (
    PartnerCapUsage,
    PartnerDelivery,
    PartnerEstimate,
    PartnerLead,
    PartnerObservation,
    PartnerPing,
    PartnerStats,
)

PENDING, DELIVERED, REJECTED, DEAD, EXPIRED = "PENDING", "DELIVERED", "REJECTED", "DEAD", "EXPIRED"
PENDING_SELECTION, OFFERED, POSTED, UNSOLD = "PENDING", "OFFERED", "POSTED", "UNSOLD"


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


# --- caps ------------------------------------------------------------------------------------------


async def lock_caps(
    session: AsyncSession, dialect: str, rows: Sequence[tuple[str, str, int]]
) -> dict[tuple[str, str], int]:
    """Makes sure the (partner, window) cap rows exist, locks them, and returns how many each has used."""
    table = _table(PartnerCapUsage)
    values = [{"partner_id": p, "window_key": k, "used": 0, "committed": 0, "cap": c} for p, k, c in rows]
    await session.execute(dialect_insert(dialect, table).values(values).on_conflict_do_nothing())
    wanted = {(p, k) for p, k, _ in rows}
    stmt = (
        select(table.c.partner_id, table.c.window_key, table.c.used)
        .where(
            table.c.partner_id.in_(sorted({p for p, _ in wanted})),
            table.c.window_key.in_(sorted({k for _, k in wanted})),
        )
        .order_by(table.c.partner_id, table.c.window_key)
    )
    if dialect == "postgresql":
        stmt = stmt.with_for_update()
    return {(r.partner_id, r.window_key): int(r.used) for r in await session.execute(stmt)}


async def add_cap_usage(session: AsyncSession, deltas: Sequence[tuple[str, str, int, int]]) -> None:
    """used += n for each (partner, window, n, cap) reserved under the locks taken by lock_caps."""
    if not deltas:
        return
    t = _table(PartnerCapUsage)
    stmt = (
        update(t)
        .where(t.c.partner_id == bindparam("b_partner"), t.c.window_key == bindparam("b_key"))
        .values(used=t.c.used + bindparam("b_n", type_=Integer), cap=bindparam("b_cap", type_=Integer))
    )
    await session.execute(stmt, [{"b_partner": p, "b_key": k, "b_n": n, "b_cap": c} for p, k, n, c in deltas])


async def release_caps(session: AsyncSession, partner_id: str, keys: Sequence[str]) -> None:
    if keys:
        t = _table(PartnerCapUsage)
        await session.execute(
            update(t).where(t.c.partner_id == partner_id, t.c.window_key.in_(list(keys))).values(used=t.c.used - 1)
        )


async def commit_caps(session: AsyncSession, partner_id: str, keys: Sequence[str]) -> None:
    if keys:
        t = _table(PartnerCapUsage)
        await session.execute(
            update(t)
            .where(t.c.partner_id == partner_id, t.c.window_key.in_(list(keys)))
            .values(committed=t.c.committed + 1)
        )


async def cap_usage(session: AsyncSession, partner_id: str) -> dict[str, tuple[int, int, int]]:
    t = _table(PartnerCapUsage)
    rows = await session.execute(
        select(t.c.window_key, t.c.used, t.c.committed, t.c.cap).where(t.c.partner_id == partner_id)
    )
    return {r.window_key: (r.used, r.committed, r.cap) for r in rows}


# --- leads and the outbox --------------------------------------------------------------------------


def trace_json(entries: Sequence[TraceEntry]) -> str:
    return json.dumps(
        [[e.partner_id, e.status, e.detail, e.bid_fen, e.latency_ms, e.expected_value_fen, e.rank] for e in entries],
        separators=(",", ":"),
    )


def trace_from_json(text: str) -> list[TraceEntry]:
    return [TraceEntry(*row) for row in json.loads(text)]


def applicant_to_json(a: LeadApplicant) -> str:
    """De-identified applicant (hashed refs, bands' inputs, consents) so selection can run later."""
    data = {
        "applicant_ref": a.applicant_ref,
        "tier": a.tier,
        "score": a.score,
        "age": a.age,
        "region": a.region,
        "requested_amount_fen": a.requested_amount_fen,
        "term_months": a.term_months,
        "phone_hash": a.phone_hash,
        "channel": a.channel,
        "consents": [
            {
                "ids": sorted(c.recipient_ids),
                "classes": sorted(c.recipient_classes),
                "purposes": sorted(c.purposes),
                "granted_at": c.granted_at.isoformat() if c.granted_at else None,
                "expires_at": c.expires_at.isoformat() if c.expires_at else None,
            }
            for c in a.consents
        ],
    }
    return json.dumps(data, separators=(",", ":"))


def applicant_from_json(text: str) -> LeadApplicant:
    data = json.loads(text)
    consents = tuple(
        Consent(
            frozenset(c["ids"]),
            frozenset(c["classes"]),
            frozenset(c["purposes"]),
            datetime.fromisoformat(c["granted_at"]) if c["granted_at"] else None,
            datetime.fromisoformat(c["expires_at"]) if c["expires_at"] else None,
        )
        for c in data.pop("consents")
    )
    return LeadApplicant(**data, consents=consents)


@dataclass(frozen=True)
class NewDelivery:
    delivery_id: str
    partner_id: str
    price_fen: int
    cap_keys: list[str]
    seq: int = 0


async def insert_leads(
    session: AsyncSession,
    leads: Sequence[dict[str, Any]],
    deliveries: Sequence[tuple[str, NewDelivery]],
    pings: Sequence[dict[str, Any]],
    now: datetime,
) -> None:
    """One INSERT per table for a whole decision batch."""
    if leads:
        await session.execute(insert(_table(PartnerLead)), list(leads))
    if deliveries:
        await session.execute(
            insert(_table(PartnerDelivery)), [_delivery_row(lead_id, d, now) for lead_id, d in deliveries]
        )
    if pings:
        await session.execute(insert(_table(PartnerPing)), list(pings))


async def pending_leads(session: ReadSession, limit: int) -> list[tuple[str, str]]:
    t = _table(PartnerLead)
    rows = await session.execute(
        select(t.c.lead_id, t.c.applicant_json)
        .where(t.c.status == PENDING_SELECTION)
        .order_by(t.c.created_at, t.c.lead_id)
        .limit(limit)
    )
    return [(r.lead_id, r.applicant_json) for r in rows]


async def settle_pending(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Writes a late selection onto a PENDING lead; False when another process already did."""
    t = _table(PartnerLead)
    fields = {k: v for k, v in values.items() if k != "lead_id"}
    result = await session.execute(
        update(t).where(t.c.lead_id == values["lead_id"], t.c.status == PENDING_SELECTION).values(**fields)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def _delivery_row(lead_id: str, d: NewDelivery, now: datetime) -> dict[str, Any]:
    return {
        "delivery_id": d.delivery_id,
        "lead_id": lead_id,
        "partner_id": d.partner_id,
        "seq": d.seq,
        "price_fen": d.price_fen,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": "",
        "cap_keys": json.dumps(d.cap_keys),
        "created_at": now,
        "updated_at": now,
        "dead_at": None,
    }


async def add_delivery(session: AsyncSession, lead_id: str, d: NewDelivery, now: datetime) -> None:
    await session.execute(insert(_table(PartnerDelivery)).values(**_delivery_row(lead_id, d, now)))


@dataclass(frozen=True)
class DueDelivery:
    delivery_id: str
    lead_id: str
    partner_id: str
    price_fen: int
    attempts: int
    cap_keys: list[str]
    applicant_ref: str
    source_channel: str
    masked_applicant: str
    tier: str


async def claim_due(session: AsyncSession, now: datetime, lease_until: datetime, limit: int) -> list[DueDelivery]:
    """Claims due deliveries by pushing next_attempt_at ahead (a lease): a crashed attempt comes back."""
    d, lead = _table(PartnerDelivery), _table(PartnerLead)
    ids = list(
        (
            await session.execute(
                select(d.c.delivery_id)
                .where(d.c.status == PENDING, d.c.next_attempt_at <= now)
                .order_by(d.c.next_attempt_at, d.c.delivery_id)
                .limit(limit)
            )
        ).scalars()
    )
    if not ids:
        return []
    claimed = list(
        (
            await session.execute(
                update(d)
                .where(d.c.delivery_id.in_(ids), d.c.status == PENDING, d.c.next_attempt_at <= now)
                .values(next_attempt_at=lease_until)
                .returning(d.c.delivery_id)
            )
        ).scalars()
    )
    if not claimed:
        return []
    rows = await session.execute(
        select(
            d.c.delivery_id,
            d.c.lead_id,
            d.c.partner_id,
            d.c.price_fen,
            d.c.attempts,
            d.c.cap_keys,
            lead.c.applicant_ref,
            lead.c.source_channel,
            lead.c.masked_applicant,
            lead.c.tier,
        )
        .join(lead, lead.c.lead_id == d.c.lead_id)
        .where(d.c.delivery_id.in_(claimed))
        .order_by(d.c.created_at, d.c.delivery_id)
    )
    return [
        DueDelivery(
            r.delivery_id,
            r.lead_id,
            r.partner_id,
            r.price_fen,
            r.attempts,
            json.loads(r.cap_keys),
            r.applicant_ref,
            r.source_channel,
            r.masked_applicant,
            r.tier,
        )
        for r in rows
    ]


async def set_delivery(session: AsyncSession, delivery_id: str, now: datetime, **values: Any) -> bool:
    """Moves a PENDING delivery; False when it is no longer pending (someone else finished it)."""
    d = _table(PartnerDelivery)
    result = await session.execute(
        update(d).where(d.c.delivery_id == delivery_id, d.c.status == PENDING).values(updated_at=now, **values)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


async def mark_delivered(session: AsyncSession, delivery_ids: Sequence[str], now: datetime) -> set[str]:
    """PENDING → DELIVERED for many deliveries at once; returns the ones that moved."""
    if not delivery_ids:
        return set()
    d = _table(PartnerDelivery)
    result = await session.execute(
        update(d)
        .where(d.c.delivery_id.in_(list(delivery_ids)), d.c.status == PENDING)
        .values(status=DELIVERED, attempts=d.c.attempts + 1, last_error="", updated_at=now)
        .returning(d.c.delivery_id)
    )
    return set(result.scalars())


async def commit_caps_many(session: AsyncSession, counts: dict[tuple[str, str], int]) -> None:
    if counts:
        t = _table(PartnerCapUsage)
        stmt = (
            update(t)
            .where(t.c.partner_id == bindparam("b_partner"), t.c.window_key == bindparam("b_key"))
            .values(committed=t.c.committed + bindparam("b_n", type_=Integer))
        )
        await session.execute(stmt, [{"b_partner": p, "b_key": k, "b_n": n} for (p, k), n in counts.items()])


async def post_leads(session: AsyncSession, rows: Sequence[tuple[str, str, int]], now: datetime) -> None:
    """Marks leads POSTED to the partner that accepted them: (lead_id, partner_id, price_fen)."""
    if rows:
        t = _table(PartnerLead)
        stmt = (
            update(t)
            .where(t.c.lead_id == bindparam("b_lead"))
            .values(status=POSTED, partner_id=bindparam("b_partner"), price_fen=bindparam("b_price"), updated_at=now)
        )
        await session.execute(stmt, [{"b_lead": lead, "b_partner": p, "b_price": price} for lead, p, price in rows])


async def reschedule(session: AsyncSession, rows: Sequence[dict[str, Any]], now: datetime) -> None:
    """Failed or skipped attempts of PENDING deliveries: new status, attempts, next time, last error."""
    if rows:
        d = _table(PartnerDelivery)
        stmt = (
            update(d)
            .where(d.c.delivery_id == bindparam("b_id"), d.c.status == PENDING)
            .values(
                status=bindparam("b_status"),
                attempts=bindparam("b_attempts"),
                next_attempt_at=bindparam("b_next", type_=d.c.next_attempt_at.type),
                last_error=bindparam("b_error"),
                dead_at=bindparam("b_dead", type_=d.c.dead_at.type),
                updated_at=now,
            )
        )
        await session.execute(stmt, list(rows))


async def load_lead(session: ReadSession, lead_id: str, *, for_update: bool = False) -> Any:
    stmt = select(_table(PartnerLead)).where(_table(PartnerLead).c.lead_id == lead_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).one_or_none()


async def update_lead(session: AsyncSession, lead_id: str, **values: Any) -> None:
    t = _table(PartnerLead)
    await session.execute(update(t).where(t.c.lead_id == lead_id).values(**values))


async def tried_partners(session: AsyncSession, lead_id: str) -> set[str]:
    d = _table(PartnerDelivery)
    return set((await session.execute(select(d.c.partner_id).where(d.c.lead_id == lead_id))).scalars())


async def deliveries_of(session: ReadSession, lead_id: str) -> list[Any]:
    d = _table(PartnerDelivery)
    return list(await session.execute(select(d).where(d.c.lead_id == lead_id).order_by(d.c.seq)))


async def dead_letters(session: ReadSession, partner_id: str, after: str, limit: int) -> list[Any]:
    d = _table(PartnerDelivery)
    stmt = select(d).where(d.c.status == DEAD, d.c.delivery_id > after).order_by(d.c.delivery_id).limit(limit)
    if partner_id:
        stmt = stmt.where(d.c.partner_id == partner_id)
    return list(await session.execute(stmt))


async def dead_letter_counts(session: AsyncSession) -> dict[str, int]:
    """Dead letters waiting for a replay, per partner (partners without any are absent)."""
    d = _table(PartnerDelivery)
    rows = await session.execute(
        select(d.c.partner_id, func.count()).where(d.c.status == DEAD).group_by(d.c.partner_id)
    )
    return {str(partner_id): int(n) for partner_id, n in rows}


async def replay(session: AsyncSession, delivery_id: str, now: datetime) -> bool:
    d = _table(PartnerDelivery)
    result = await session.execute(
        update(d)
        .where(d.c.delivery_id == delivery_id, d.c.status == DEAD)
        .values(status=PENDING, attempts=0, next_attempt_at=now, dead_at=None, updated_at=now)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


async def delivery_exists(session: AsyncSession, delivery_id: str) -> str | None:
    d = _table(PartnerDelivery)
    return (await session.execute(select(d.c.status).where(d.c.delivery_id == delivery_id))).scalar_one_or_none()


# --- estimates and partner stats -------------------------------------------------------------------


async def bump_estimate(session: AsyncSession, dialect: str, partner_id: str, tier: str, **deltas: int) -> None:
    t = _table(PartnerEstimate)
    base = {"accept_s": 0, "accept_f": 0, "fund_s": 0, "fund_f": 0}
    stmt = dialect_insert(dialect, t).values(partner_id=partner_id, tier=tier, **{**base, **deltas})
    stmt = stmt.on_conflict_do_update(
        index_elements=[t.c.partner_id, t.c.tier], set_={k: t.c[k] + v for k, v in deltas.items()}
    )
    await session.execute(stmt)


async def load_estimates(session: ReadSession) -> EstimateBook:
    t = _table(PartnerEstimate)
    book = EstimateBook()
    for r in await session.execute(select(t)):
        book.counts[(r.partner_id, r.tier)] = BetaCounts(r.accept_s, r.accept_f, r.fund_s, r.fund_f)
    return book


async def log_observations(session: AsyncSession, observations: Sequence[Observation], replica: str) -> None:
    """Appends what the estimates learn from, in the transaction that records it (one INSERT), marked with the
    replica that learned it live (the others take it in from here)."""
    if not observations:
        return
    rows = [
        {
            "replica": replica,
            "kind": o.kind,
            "lead_id": o.lead_id,
            "partner_id": o.partner_id,
            "success": o.success,
            "features": json.dumps(o.features, separators=(",", ":")) if o.features else "",
            "price_fen": o.price_fen,
            "decision_ms": o.decision_ms,
            "observed_at": datetime.fromtimestamp(o.at, UTC),
        }
        for o in observations
    ]
    await session.execute(insert(_table(PartnerObservation)), rows)


async def load_observations(
    session: ReadSession, since: datetime, *, not_by: str | None = None, skip: Container[int] = ()
) -> list[tuple[int, Observation]]:
    """(id, observation) of those observed at or after `since`, in the order they were logged; `not_by` leaves
    out one replica's, `skip` ids already had (their features are not even parsed)."""
    t = _table(PartnerObservation)
    query = select(t).where(t.c.observed_at >= since).order_by(t.c.id)
    if not_by is not None:
        query = query.where(or_(t.c.replica.is_(None), t.c.replica != not_by))
    rows = await session.execute(query)
    return [
        (
            r.id,
            Observation(
                r.kind,
                r.lead_id,
                r.partner_id,
                r.success,
                r.observed_at.timestamp(),
                tuple((g, v) for g, v in json.loads(r.features)) if r.features else (),
                r.price_fen,
                r.decision_ms,
            ),
        )
        for r in rows
        if r.id not in skip
    ]


async def prune_observations(session: AsyncSession, before: datetime) -> None:
    t = _table(PartnerObservation)
    await session.execute(delete(t).where(t.c.observed_at < before))


async def cap_used(session: ReadSession, windows: Sequence[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
    """Leads used in each (partner, window key) of `windows` [(partner, key, cap)] (no lock: a read for
    planning; choose() enforces the caps)."""
    if not windows:
        return {}
    t = _table(PartnerCapUsage)
    rows = await session.execute(
        select(t.c.partner_id, t.c.window_key, t.c.used).where(
            tuple_(t.c.partner_id, t.c.window_key).in_([(p, k) for p, k, _ in windows])
        )
    )
    return {(r.partner_id, r.window_key): r.used for r in rows}


async def ping_times(session: AsyncSession, lead_id: str) -> dict[str, datetime]:
    """When each partner was pinged for the lead (its bid's clock for an acceptance window)."""
    t = _table(PartnerPing)
    rows = await session.execute(select(t.c.partner_id, t.c.created_at).where(t.c.lead_id == lead_id))
    return {r.partner_id: r.created_at for r in rows}


async def count_accepted(session: AsyncSession, dialect: str, partner_id: str, n: int = 1) -> None:
    t = _table(PartnerStats)
    stmt = dialect_insert(dialect, t).values(partner_id=partner_id, accepted=n, returned=0)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=[t.c.partner_id], set_={"accepted": t.c.accepted + n})
    )


async def count_return(session: AsyncSession, partner_id: str, max_share: float) -> bool:
    """Counts one return if it keeps returns within max_share of accepted leads; False otherwise."""
    t = _table(PartnerStats)
    result = await session.execute(
        update(t)
        .where(t.c.partner_id == partner_id, (t.c.returned + 1) <= t.c.accepted * max_share)
        .values(returned=t.c.returned + 1)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


# --- reports ---------------------------------------------------------------------------------------


@dataclass
class PartnerFigures:
    pings: int = 0
    answered: int = 0
    bids: int = 0
    wins: int = 0
    latencies: list[float] | None = None
    delivered: int = 0
    rejected: int = 0
    accepted_leads: int = 0
    funded: int = 0
    revenue_fen: int = 0
    returns: int = 0


async def partner_figures(session: AsyncSession, partner_ids: Sequence[str]) -> dict[str, PartnerFigures]:
    from services.router.partners.domain import BID, ERROR, TIMEOUT

    out = {pid: PartnerFigures(latencies=[]) for pid in partner_ids}
    p = _table(PartnerPing)
    ping_rows = await session.execute(
        select(
            p.c.partner_id,
            func.count(),
            _count_if(p.c.status.notin_([TIMEOUT, ERROR])),
            _count_if(p.c.status == BID),
            _count_if(p.c.won.is_(True)),
        )
        .where(p.c.partner_id.in_(list(partner_ids)))
        .group_by(p.c.partner_id)
    )
    for pid, n, answered, bids, wins in ping_rows:
        f = out[pid]
        f.pings, f.answered, f.bids, f.wins = int(n), int(answered or 0), int(bids or 0), int(wins or 0)
    for pid, latency in await session.execute(
        select(p.c.partner_id, p.c.latency_ms).where(p.c.partner_id.in_(list(partner_ids)))
    ):
        out[pid].latencies.append(float(latency))  # type: ignore[union-attr]
    d = _table(PartnerDelivery)
    for pid, status, n in await session.execute(
        select(d.c.partner_id, d.c.status, func.count())
        .where(d.c.partner_id.in_(list(partner_ids)), d.c.status.in_([DELIVERED, REJECTED]))
        .group_by(d.c.partner_id, d.c.status)
    ):
        if status == DELIVERED:
            out[pid].delivered = int(n)
        else:
            out[pid].rejected = int(n)
    lead = _table(PartnerLead)
    from skylane.router.v1 import leads_pb2

    returned = leads_pb2.LEAD_OUTCOME_RETURNED
    funded = leads_pb2.LEAD_OUTCOME_FUNDED
    for pid, n, n_funded, revenue, n_returned in await session.execute(
        select(
            lead.c.partner_id,
            func.count(),
            _count_if(lead.c.outcome == funded),
            func.sum(case((lead.c.outcome != returned, lead.c.price_fen), else_=0)),
            _count_if(lead.c.outcome == returned),
        )
        .where(and_(lead.c.status == POSTED, lead.c.partner_id.in_(list(partner_ids))))
        .group_by(lead.c.partner_id)
    ):
        f = out[pid]
        f.accepted_leads, f.funded = int(n), int(n_funded or 0)
        f.revenue_fen, f.returns = int(revenue or 0), int(n_returned or 0)
    return out


def _count_if(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))
