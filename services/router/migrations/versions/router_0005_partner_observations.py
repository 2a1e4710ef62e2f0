"""partner observations: what the contextual estimates learned from, replayed at start

Revision ID: router_0005
Revises: router_0004
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "router_0005"
down_revision: str | None = "router_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "partner_observations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("lead_id", sa.String(length=40), nullable=False),
        sa.Column("partner_id", sa.String(length=40), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("decision_ms", sa.Float(), nullable=True),
        sa.Column("observed_at", services.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("partner_observations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_observations_observed_at"), ["observed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("partner_observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_observations_observed_at"))
    op.drop_table("partner_observations")
