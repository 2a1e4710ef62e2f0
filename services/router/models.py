"""Tables of the router database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import UTCDateTime
from services.common.event_schema import event_tables
from services.common.idempotency import idempotency_table
from services.common.replica_share import replica_table


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}  # noqa: RUF012


idempotency_keys = idempotency_table(Base.metadata)
# The outbox of router events and the consumer and ingest tables (services/common/event_schema.py).
event_tables(Base.metadata)
replica_table(Base.metadata)


class DecisionRow(Base):
    """One routing decision. kind: 'live' (acted on, counted), 'shadow' (the other arm's decision on the
    same request, never acted on) or 'repeat' (a sticky repeat answered from an earlier live decision).

    RouteApplicant's idempotency lives here (unique idempotency_key + request fingerprint + stored
    response) so the hot path writes one row per request instead of two.
    """

    __tablename__ = "decisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    applicant_ref: Mapped[str] = mapped_column(String(128))
    device_ref: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(64))
    scenario: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    destination: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[str] = mapped_column(String(64), default="")
    reasons_json: Mapped[str] = mapped_column(Text)
    config_version: Mapped[str] = mapped_column(String(32))
    policy_version: Mapped[str] = mapped_column(String(32))
    arm: Mapped[str] = mapped_column(String(16))
    # shadow: the live decision it shadows; repeat: the original live decision.
    paired_id: Mapped[str | None] = mapped_column(String(32))
    # shadow only: whether it agreed with the live decision on tier and destination.
    agrees: Mapped[bool | None] = mapped_column(Boolean)
    # live only: the candidate should have acted but failed, so the champion did.
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_at: Mapped[datetime] = mapped_column()
    local_day: Mapped[str] = mapped_column(String(10))
    inputs_json: Mapped[str] = mapped_column(Text)
    response: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        Index("ix_decisions_applicant", "applicant_ref", "decided_at"),
        Index("ix_decisions_device", "device_ref", "decided_at"),
        Index("ix_decisions_kind_time", "kind", "decided_at"),
        Index("ix_decisions_paired", "paired_id"),
    )


class CapacityCounter(Base):
    """In-house applicants per product and local day; changed only under the row lock of the write."""

    __tablename__ = "capacity_counters"

    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    used: Mapped[int] = mapped_column(Integer)


class PolicyVersionRow(Base):
    """Every policy the router has seen, by content hash, so any can be activated or replayed later."""

    __tablename__ = "policy_versions"

    version: Mapped[str] = mapped_column(String(32), primary_key=True)
    policy_json: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(8))
    first_seen_at: Mapped[datetime] = mapped_column()


class PolicyControlRow(Base):
    """The single row holding which policy is champion and candidate (shared by all processes)."""

    __tablename__ = "policy_control"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    champion: Mapped[str] = mapped_column(String(32))
    candidate: Mapped[str | None] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(8))
    share: Mapped[float] = mapped_column()
    file_champion: Mapped[str] = mapped_column(String(32))
    file_candidate_digest: Mapped[str] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column()


class PolicyHistoryRow(Base):
    """Append-only log of policy state changes."""

    __tablename__ = "policy_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    action: Mapped[str] = mapped_column(String(16))
    champion: Mapped[str] = mapped_column(String(32))
    candidate: Mapped[str | None] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(8))
    share: Mapped[float] = mapped_column()


class LoanDrawnRow(Base):
    """An in-house loan drawn down, as the bank's loan system reported it (RecordLoanDrawn): once per decision."""

    __tablename__ = "loans_drawn"

    decision_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    applicant_ref: Mapped[str] = mapped_column(String(128))
    product_id: Mapped[str] = mapped_column(String(64))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    drawn_at: Mapped[datetime] = mapped_column()
    recorded_at: Mapped[datetime] = mapped_column()
