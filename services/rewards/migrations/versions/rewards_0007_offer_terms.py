"""offer terms: each offer keeps the coupon's threshold, discount and validity as offered

Revision ID: rewards_0007
Revises: rewards_0006
Create Date: 2026-12-04 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "rewards_0007"
down_revision: str | None = "rewards_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TERMS = (("threshold_fen", sa.BigInteger()), ("discount_fen", sa.BigInteger()), ("validity_days", sa.Integer()))


def upgrade() -> None:
    for name, kind in TERMS:
        op.add_column("decisions", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        for name, _ in reversed(TERMS):
            batch.drop_column(name)
