"""event-triggered journeys: journeys, their steps, outside risk flags

Revision ID: rewards_0005
Revises: rewards_0004
Create Date: 2026-12-02 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "rewards_0005"
down_revision: str | None = "rewards_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journeys",
        sa.Column("trigger_id", sa.String(length=64), nullable=False),
        sa.Column("customer_ref", sa.String(length=128), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("grp", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("entered_at", services.common.db.UTCDateTime(), nullable=False),
        sa.Column("due_at", services.common.db.UTCDateTime(), nullable=False),
        sa.Column("valid_until", services.common.db.UTCDateTime(), nullable=False),
        sa.Column("touch", sa.String(length=24), nullable=False),
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("trigger_id", "customer_ref"),
    )
    op.create_index("ix_journeys_due", "journeys", ["state", "due_at"], unique=False)
    op.create_index("ix_journeys_customer", "journeys", ["customer_ref", "state"], unique=False)
    op.create_table(
        "journey_steps",
        sa.Column("trigger_id", sa.String(length=64), nullable=False),
        sa.Column("customer_ref", sa.String(length=128), nullable=False),
        sa.Column("entry", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=24), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("at", services.common.db.UTCDateTime(), nullable=False),
        sa.Column("detail", sa.String(length=96), nullable=False),
        sa.PrimaryKeyConstraint("trigger_id", "customer_ref", "entry", "step"),
    )
    op.create_table(
        "risk_flags",
        sa.Column("customer_ref", sa.String(length=128), nullable=False),
        sa.Column("flag", sa.String(length=64), nullable=False),
        sa.Column("at", services.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_ref", "flag"),
    )


def downgrade() -> None:
    op.drop_table("risk_flags")
    op.drop_table("journey_steps")
    op.drop_index("ix_journeys_customer", table_name="journeys")
    op.drop_index("ix_journeys_due", table_name="journeys")
    op.drop_table("journeys")
