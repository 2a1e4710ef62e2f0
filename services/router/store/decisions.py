"""Queries over recorded decisions and in-house capacity counters (SQLAlchemy Core, one statement each)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, and_, bindparam, func, literal, or_, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.point_reads import ReadSession
from services.router.domain.routing import CounterClaim
from services.router.models import CapacityCounter, DecisionRow

decisions = cast(Table, DecisionRow.__table__)
counters = cast(Table, CapacityCounter.__table__)


async def lock_applicants(session: AsyncSession, dialect: str, refs: Iterable[str]) -> None:
    """Serialises concurrent writers (other processes) deciding for the same applicant on PostgreSQL.

    SQLite needs nothing: BEGIN IMMEDIATE already makes each write transaction the only writer.
    """
    if dialect != "postgresql":
        return
    ordered = sorted(set(refs))
    if ordered:
        # Sorted lock order: two writers locking overlapping sets cannot deadlock.
        await session.execute(
            text(
                "SELECT pg_advisory_xact_lock(hashtextextended(r, 7)) "
                "FROM (SELECT unnest(CAST(:refs AS text[])) AS r ORDER BY 1) s"
            ),
            {"refs": ordered},
        )


def _lookup_statement(with_applicants: bool, with_devices: bool) -> Any:
    d = decisions.c
    cols = (d.id, d.kind, d.idempotency_key, d.fingerprint, d.applicant_ref, d.device_ref, d.decided_at, d.response)
    since = bindparam("since", type_=d.decided_at.type)
    parts = [select(literal("key").label("hit"), *cols).where(d.idempotency_key.in_(bindparam("keys", expanding=True)))]
    if with_applicants:
        parts.append(
            select(literal("app").label("hit"), *cols).where(
                d.applicant_ref.in_(bindparam("apps", expanding=True)), d.decided_at >= since
            )
        )
    if with_devices:
        parts.append(
            select(literal("dev").label("hit"), *cols).where(
                d.device_ref.in_(bindparam("devs", expanding=True)), d.decided_at >= since
            )
        )
    return union_all(*parts) if len(parts) > 1 else parts[0]


# Built once: constructing the union costs more than SQLAlchemy's cached execution of it.
_LOOKUPS = {(a, v): _lookup_statement(a, v) for a in (False, True) for v in (False, True)}


async def lookup(
    session: AsyncSession, keys: Sequence[str], applicants: Sequence[str], devices: Sequence[str], since: datetime
) -> Sequence[Any]:
    """One round trip: rows already holding one of the idempotency keys, and the decisions of the
    applicants and devices since `since` (for stickiness and velocity). Column `hit` says which.

    The caller keeps only kind 'live' for applicants and devices: filtering on kind here would let SQLite
    (which has no statistics) pick the (kind, decided_at) index and scan every recent decision."""
    params: dict[str, Any] = {"keys": list(keys), "since": since}
    if applicants:
        params["apps"] = list(applicants)
    if devices:
        params["devs"] = list(devices)
    return (await session.execute(_LOOKUPS[(bool(applicants), bool(devices))], params)).all()


# Text, not a dialect insert(): SQLAlchemy cannot cache ON CONFLICT DO UPDATE constructs, and compiling one
# per batch cost more than running it. SQLite (3.35+) and PostgreSQL share this syntax.
_LOCK_COUNTER = text(
    "INSERT INTO capacity_counters (product_id, day, used) VALUES (:product_id, :day, 0) "
    "ON CONFLICT (product_id, day) DO UPDATE SET used = capacity_counters.used RETURNING used"
)


async def lock_counters(session: AsyncSession, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Creates each counter row if needed and reads it under a row lock held until commit (ON CONFLICT DO
    UPDATE locks the row on PostgreSQL; SQLite's BEGIN IMMEDIATE locks the database). Sorted order: two
    writers locking overlapping sets cannot deadlock."""
    used: dict[tuple[str, str], int] = {}
    for product, day in sorted(set(wanted)):
        result = await session.execute(_LOCK_COUNTER, {"product_id": product, "day": day})
        used[(product, day)] = int(result.scalar_one())
    return used


_READ_COUNTER = text("SELECT used FROM capacity_counters WHERE product_id = :product_id AND day = :day")


async def read_counters(session: AsyncSession, wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Each counter as it reads now, without a lock (a missing row reads 0); see `claim_counters`."""
    used: dict[tuple[str, str], int] = {}
    for product, day in sorted(set(wanted)):
        result = await session.execute(_READ_COUNTER, {"product_id": product, "day": day})
        used[(product, day)] = int(result.scalar_one_or_none() or 0)
    return used


_CLAIM_COUNTER = text(
    "INSERT INTO capacity_counters (product_id, day, used) VALUES (:product_id, :day, :taken) "
    "ON CONFLICT (product_id, day) DO UPDATE SET used = capacity_counters.used + excluded.used "
    "WHERE capacity_counters.used <= :slack RETURNING used"
)


async def claim_counters(session: AsyncSession, claims: Mapping[tuple[str, str], CounterClaim]) -> bool:
    """Adds each claim's slots to its counter if the counter still reads at most the claim's slack, as
    the transaction's last statements: the row lock is then held for the commit only, not for the whole
    batch. False when a counter moved too far since it was read (the caller rolls back and retries with
    `lock_counters`). Sorted order, as `lock_counters`."""
    for (product, day), claim in sorted(claims.items()):
        params = {"product_id": product, "day": day, "taken": claim.taken, "slack": claim.slack}
        if (await session.execute(_CLAIM_COUNTER, params)).first() is None:
            return False
    return True


_MOVE_COUNTER = text(
    "UPDATE capacity_counters SET used = :new WHERE product_id = :product_id AND day = :day AND used = :old"
)


async def save_counters(session: AsyncSession, changes: dict[tuple[str, str], tuple[int, int]]) -> None:
    """Moves each counter from old to new; the WHERE makes a lost update impossible even if the lock
    discipline were ever broken (the write then fails instead of overshooting)."""
    for (product, day), (old, new) in changes.items():
        result = await session.execute(_MOVE_COUNTER, {"new": new, "product_id": product, "day": day, "old": old})
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise RuntimeError(f"capacity counter {product}/{day} moved under a held lock")


async def insert_decisions(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(decisions.insert(), rows)


async def get_with_shadow(session: ReadSession, decision_id: str) -> tuple[Row[Any] | None, Row[Any] | None]:
    d = decisions.c
    rows = (
        await session.execute(
            select(decisions).where(or_(d.id == decision_id, and_(d.paired_id == decision_id, d.kind == "shadow")))
        )
    ).all()
    main = next((r for r in rows if r.id == decision_id), None)
    shadow = next((r for r in rows if r.kind == "shadow" and r.paired_id == decision_id), None)
    return main, shadow


async def live_in_window(session: AsyncSession, start: datetime, end: datetime) -> Sequence[Any]:
    d = decisions.c
    query = (
        select(d.id, d.applicant_ref, d.tier, d.destination, d.score, d.reasons_json, d.inputs_json, d.local_day)
        .where(d.kind == "live", d.decided_at >= start, d.decided_at < end)
        .order_by(d.decided_at, d.id)
    )
    return (await session.execute(query)).all()


async def report_groups(session: AsyncSession, start: datetime, end: datetime) -> Sequence[Any]:
    d = decisions.c
    query = (
        select(d.kind, d.local_day, d.channel, d.tier, d.destination, func.count().label("n"))
        .where(d.kind.in_(("live", "repeat")), d.decided_at >= start, d.decided_at < end)
        .group_by(d.kind, d.local_day, d.channel, d.tier, d.destination)
    )
    return (await session.execute(query)).all()


async def capacity_between(session: AsyncSession, first_day: str, last_day: str) -> Sequence[Any]:
    c = counters.c
    query = select(c.product_id, c.day, c.used).where(c.day >= first_day, c.day <= last_day).order_by(c.day)
    return (await session.execute(query)).all()


async def version_stats(session: AsyncSession) -> Sequence[Any]:
    """Per policy version and kind: decisions, agreements, fallbacks, per destination."""
    d = decisions.c
    query = (
        select(
            d.policy_version,
            d.kind,
            d.destination,
            func.count().label("n"),
            func.sum(func.coalesce(d.agrees, False).cast(type_=decisions.c.score.type)).label("agreed"),
            func.sum(d.fallback.cast(type_=decisions.c.score.type)).label("fallbacks"),
        )
        .where(d.kind.in_(("live", "shadow")))
        .group_by(d.policy_version, d.kind, d.destination)
    )
    return (await session.execute(query)).all()
