"""event stream, consumers, outside-event ingest and the inputs kept from peers

Revision ID: rewards_0003
Revises: rewards_0002
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db
from services.common import event_schema

revision: str = "rewards_0003"
down_revision: str | None = "rewards_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    event_schema.create_tables(op)
    op.create_table(
        "customer_inputs",
        sa.Column("customer_ref", sa.String(length=128), nullable=False),
        sa.Column("growth_level", sa.String(length=64), nullable=True),
        sa.Column("growth_position", sa.BigInteger(), nullable=False),
        sa.Column("growth_at", services.common.db.UTCDateTime(), nullable=True),
        sa.Column("risk_tier", sa.String(length=64), nullable=True),
        sa.Column("risk_destination", sa.String(length=16), nullable=True),
        sa.Column("risk_reasons", sa.String(length=512), nullable=True),
        sa.Column("risk_position", sa.BigInteger(), nullable=False),
        sa.Column("risk_at", services.common.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("customer_ref"),
    )


def downgrade() -> None:
    op.drop_table("customer_inputs")
    event_schema.drop_tables(op)
