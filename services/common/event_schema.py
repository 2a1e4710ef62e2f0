"""The tables every service keeps for events, and the migration steps that create them.

- `events`: the outbox (services/common/outbox.py);
- `consumer_cursors`, `consumed_events`: where each of the service's consumers stands in a peer's stream
  and which event ids it applied (services/common/consumer.py);
- `ingested_events`, `customer_zones`: outside events' idempotency keys and the time zone kept per
  customer (services/common/ingest.py).

Each service's models call `event_tables(Base.metadata)`; its migration calls `create_tables(op)`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import BigInteger, Column, MetaData, String, Table

from services.common.db import UTCDateTime
from services.common.outbox import events_table


def consumer_tables(metadata: MetaData) -> tuple[Table, Table]:
    cursors = Table(
        "consumer_cursors",
        metadata,
        Column("peer", String(32), primary_key=True),  # the service consumed
        Column("position", BigInteger, nullable=False),  # the peer's stream position applied last
        Column("updated_at", UTCDateTime, nullable=False),
    )
    consumed = Table(
        "consumed_events",
        metadata,
        Column("event_id", String(64), primary_key=True),  # "<service>-<number>": unique across the suite
        Column("outcome", String(32), nullable=False),  # applied, ignored, or why it was skipped
        Column("consumed_at", UTCDateTime, nullable=False, index=True),
    )
    return cursors, consumed


def ingest_tables(metadata: MetaData) -> tuple[Table, Table]:
    keys = Table(
        "ingested_events",
        metadata,
        Column("key", String(128), primary_key=True),  # the outside event's own idempotency key
        Column("event_seq", BigInteger, nullable=False),  # its row in the outbox
        Column("received_at", UTCDateTime, nullable=False, index=True),
    )
    zones = Table(
        "customer_zones",
        metadata,
        Column("customer", String(128), primary_key=True),
        Column("zone", String(64), nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    return keys, zones


def event_tables(metadata: MetaData, *, with_outbox: bool = True) -> None:
    """Declares every event table in a service's metadata (the outbox too unless it declares its own)."""
    if with_outbox:
        events_table(metadata)
    consumer_tables(metadata)
    ingest_tables(metadata)


# --- migrations ----------------------------------------------------------------------------------------


def create_outbox(op: Any) -> None:
    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("customer", sa.String(length=128), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("dedupe_key", name="uq_events_dedupe_key"),
    )
    op.create_index("ix_events_customer_seq", "events", ["customer", "seq"], unique=False)
    create_position_indexes(op)


def create_position_indexes(op: Any) -> None:
    """PostgreSQL only: the stream reads by position, and the sequencer finds the rows without one."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.create_index("ix_events_position", "events", ["position"], unique=True)
    op.create_index(
        "ix_events_unpositioned", "events", ["seq"], unique=False, postgresql_where=sa.text("position IS NULL")
    )


def create_tables(op: Any, *, with_outbox: bool = True) -> None:
    if with_outbox:
        create_outbox(op)
    op.create_table(
        "consumer_cursors",
        sa.Column("peer", sa.String(length=32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("peer"),
    )
    op.create_table(
        "consumed_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("consumed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_consumed_events_consumed_at", "consumed_events", ["consumed_at"], unique=False)
    op.create_table(
        "ingested_events",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_ingested_events_received_at", "ingested_events", ["received_at"], unique=False)
    op.create_table(
        "customer_zones",
        sa.Column("customer", sa.String(length=128), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer"),
    )


def drop_tables(op: Any, *, with_outbox: bool = True) -> None:
    op.drop_table("customer_zones")
    op.drop_index("ix_ingested_events_received_at", table_name="ingested_events")
    op.drop_table("ingested_events")
    op.drop_index("ix_consumed_events_consumed_at", table_name="consumed_events")
    op.drop_table("consumed_events")
    op.drop_table("consumer_cursors")
    if with_outbox:
        op.drop_table("events")
