"""event stream, consumers and outside-event ingest

The growth outbox becomes the shared one (services/common/outbox.py): `member` → `customer`,
`emitted_at` → `occurred_at`, a stream `position` (PostgreSQL), dedupe keys optional. The consumer and
ingest tables are added (services/common/event_schema.py).

Revision ID: growth_0003
Revises: growth_0002
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common import event_schema

revision: str = "growth_0003"
down_revision: str | None = "growth_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_member"))
        batch_op.alter_column("member", new_column_name="customer", existing_type=sa.String(length=128))
        batch_op.alter_column("emitted_at", new_column_name="occurred_at", existing_nullable=False)
        batch_op.alter_column("type", existing_type=sa.String(length=32), type_=sa.String(length=64))
        batch_op.alter_column("dedupe_key", existing_type=sa.String(length=128), nullable=True)
        batch_op.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
    op.create_index("ix_events_customer_seq", "events", ["customer", "seq"], unique=False)
    event_schema.create_position_indexes(op)
    event_schema.create_tables(op, with_outbox=False)


def downgrade() -> None:
    # Rows written since that the old schema cannot hold: an event without a dedupe key gets one made of its
    # number (unique, and unlike every key the old code made); an event whose type is longer than the old
    # 32 characters (an outside event's `outside.<type>`, which the old code never knew) is dropped.
    op.execute("UPDATE events SET dedupe_key = 'event:' || CAST(seq AS VARCHAR(20)) WHERE dedupe_key IS NULL")
    op.execute("DELETE FROM events WHERE length(type) > 32")
    event_schema.drop_tables(op, with_outbox=False)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_events_unpositioned", table_name="events")
        op.drop_index("ix_events_position", table_name="events")
    op.drop_index("ix_events_customer_seq", table_name="events")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("position")
        batch_op.alter_column("dedupe_key", existing_type=sa.String(length=128), nullable=False)
        batch_op.alter_column("type", existing_type=sa.String(length=64), type_=sa.String(length=32))
        batch_op.alter_column("occurred_at", new_column_name="emitted_at", existing_nullable=False)
        batch_op.alter_column("customer", new_column_name="member", existing_type=sa.String(length=128))
    # After the batch: SQLite's batch copy resolves an index's columns by their names before the rename.
    op.create_index(op.f("ix_events_member"), "events", ["member"], unique=False)
