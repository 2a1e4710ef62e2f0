"""replicas: each replica's recent call rate (pacers plan with their share of shared caps), and the replica
that learned each partner observation live (the others take it in)

Revision ID: router_0006
Revises: router_0005
Create Date: 2026-12-03 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.replica_share import create_replica_table, drop_replica_table

revision: str = "router_0006"
down_revision: str | None = "router_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_replica_table(op)
    with op.batch_alter_table("partner_observations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replica", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("partner_observations", schema=None) as batch_op:
        batch_op.drop_column("replica")
    drop_replica_table(op)
