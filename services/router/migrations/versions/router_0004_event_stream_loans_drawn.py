"""event stream, consumers, outside-event ingest and in-house loans drawn

Revision ID: router_0004
Revises: router_0003
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db
from services.common import event_schema

revision: str = "router_0004"
down_revision: str | None = "router_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    event_schema.create_tables(op)
    op.create_table(
        "loans_drawn",
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("applicant_ref", sa.String(length=128), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("drawn_at", services.common.db.UTCDateTime(), nullable=False),
        sa.Column("recorded_at", services.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("decision_id"),
    )


def downgrade() -> None:
    op.drop_table("loans_drawn")
    event_schema.drop_tables(op)
