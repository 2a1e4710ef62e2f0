"""replica load: each replica's recent call rate, so pacers plan with their share of shared budgets and caps

Revision ID: rewards_0006
Revises: rewards_0005
Create Date: 2026-12-03 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from services.common.replica_share import create_replica_table, drop_replica_table

revision: str = "rewards_0006"
down_revision: str | None = "rewards_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_replica_table(op)


def downgrade() -> None:
    drop_replica_table(op)
