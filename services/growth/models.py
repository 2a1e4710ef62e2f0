"""Tables of the growth database.

The ledger is append-only: `transactions` + `entries` (balanced per asset) are never updated.
`balances` (one row per member and asset) and `lots` are the running state kept in the same
transaction as the entries, so reads cost the same whatever the ledger size.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.db import UTCDateTime
from services.common.event_schema import event_tables
from services.common.idempotency import idempotency_table

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}  # noqa: RUF012


idempotency_keys = idempotency_table(Base.metadata)


class MemberRow(Base):
    __tablename__ = "members"
    customer: Mapped[str] = mapped_column(String(128), primary_key=True)
    level: Mapped[str] = mapped_column(String(64))  # earned level, before any override
    enrolled_at: Mapped[datetime]
    referrer: Mapped[str | None] = mapped_column(String(128))
    grace_until: Mapped[datetime | None]
    override_level: Mapped[str | None] = mapped_column(String(64))
    override_until: Mapped[datetime | None]
    override_reason: Mapped[str | None] = mapped_column(String(500))
    override_operator: Mapped[str | None] = mapped_column(String(128))
    reviewed_at: Mapped[datetime | None]  # last review instant applied to this member


class BalanceRow(Base):
    __tablename__ = "balances"
    member: Mapped[str] = mapped_column(String(128), primary_key=True)
    asset: Mapped[str] = mapped_column(String(16), primary_key=True)
    available: Mapped[int] = mapped_column(BigInteger, default=0)
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    pending: Mapped[int] = mapped_column(BigInteger, default=0)


class TransactionRow(Base):
    __tablename__ = "transactions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    member: Mapped[str] = mapped_column(String(128))
    points: Mapped[int] = mapped_column(BigInteger, default=0)  # net change of available points
    growth: Mapped[int] = mapped_column(BigInteger, default=0)  # net change of growth value
    posted_at: Mapped[datetime]
    event_source: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[str | None] = mapped_column(String(128))
    task_id: Mapped[str | None] = mapped_column(String(64))
    config_version: Mapped[str] = mapped_column(String(32))
    operator: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(500))
    reverses: Mapped[int | None] = mapped_column(BigInteger, unique=True)  # a transaction is reversed once
    hold_id: Mapped[str | None] = mapped_column(String(32))
    __table_args__ = (Index("ix_transactions_member_id", "member", "id"),)


class EntryRow(Base):
    __tablename__ = "entries"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    txn_id: Mapped[int] = mapped_column(BigInteger, index=True)
    member: Mapped[str | None] = mapped_column(String(128))  # None for system accounts
    account: Mapped[str] = mapped_column(String(32))
    asset: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)
    lot_id: Mapped[int | None] = mapped_column(BigInteger)


class LotRow(Base):
    __tablename__ = "lots"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(8))  # "earn" or "debt" (clawback debt, negative)
    original: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    expired: Mapped[int] = mapped_column(BigInteger, default=0)  # points this lot lost to expiry
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    txn_id: Mapped[int] = mapped_column(BigInteger, index=True)
    warned_at: Mapped[datetime | None]
    __table_args__ = (
        Index("ix_lots_member_expires", "member", "expires_at"),
        Index("ix_lots_expires_remaining", "expires_at", "remaining"),
    )


class AllocationRow(Base):
    """Which lots a spend or spend-hold drew from, so a reversal restores exactly those lots."""

    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    txn_id: Mapped[int] = mapped_column(BigInteger, index=True)
    lot_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)


class HoldRow(Base):
    __tablename__ = "holds"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    member: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # "spend" or "pending"
    points: Mapped[int] = mapped_column(BigInteger)
    growth: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(12))  # open, confirmed, released, expired
    expires_at: Mapped[datetime]
    on_timeout: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(String(500))
    task_id: Mapped[str | None] = mapped_column(String(64))
    open_txn_id: Mapped[int] = mapped_column(BigInteger)
    close_txn_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    __table_args__ = (Index("ix_holds_status_expires", "status", "expires_at"),)


class ActivityRow(Base):
    """One row per (source, event id): the same event never awards twice."""

    __tablename__ = "activities"
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    member: Mapped[str] = mapped_column(String(128))
    type: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    config_version: Mapped[str] = mapped_column(String(32))
    response: Mapped[bytes | None] = mapped_column(LargeBinary)


class TaskCounterRow(Base):
    __tablename__ = "task_counters"
    member: Mapped[str] = mapped_column(String(128), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)  # d:2026-01-05, w:2026-W02, m:.., life
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class StreakRow(Base):
    __tablename__ = "streaks"
    member: Mapped[str] = mapped_column(String(128), primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_day: Mapped[str] = mapped_column(String(10))
    length: Mapped[int] = mapped_column(Integer)


class ReferralRow(Base):
    __tablename__ = "referrals"
    referee: Mapped[str] = mapped_column(String(128), primary_key=True)  # rewarded once per friend
    referrer: Mapped[str] = mapped_column(String(128))
    task_id: Mapped[str] = mapped_column(String(64))
    rewarded_at: Mapped[datetime]


class GrowthDailyRow(Base):
    """Growth value per member and local day: level windows sum at most ~366 rows."""

    __tablename__ = "growth_daily"
    member: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)


class RightStockRow(Base):
    __tablename__ = "right_stock"
    right_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, default=0)


class QuotaUsageRow(Base):
    __tablename__ = "quota_usage"
    member: Mapped[str] = mapped_column(String(128), primary_key=True)
    right_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, default=0)


class RedemptionRow(Base):
    __tablename__ = "redemptions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    member: Mapped[str] = mapped_column(String(128), index=True)
    right_id: Mapped[str] = mapped_column(String(64))
    voucher_code: Mapped[str] = mapped_column(String(32), unique=True)
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12))  # held, issued, used, cancelled, expired
    hold_id: Mapped[str] = mapped_column(String(32), unique=True)
    quota_period: Mapped[str] = mapped_column(String(16))
    valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(64))
    config_version: Mapped[str] = mapped_column(String(32))


# The outbox of growth events (services/common/outbox.py), served by StreamEvents and by ListEvents, and the
# tables of the consumers and the outside-event ingest (services/common/event_schema.py).
event_tables(Base.metadata)


class ReviewRow(Base):
    """Review instants already applied to every member."""

    __tablename__ = "level_reviews"
    review_at: Mapped[datetime] = mapped_column(primary_key=True)
    completed_at: Mapped[datetime]
