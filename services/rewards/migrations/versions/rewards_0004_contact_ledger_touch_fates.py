"""contact ledger over rolling local days, touch fates

The contact row keeps the touches of the 7 local days ending with its last touched day (`recent`, newest
first) instead of one day's and one ISO week's counters. On the way up, the week's touches before the last
day are counted on the day before it (never fewer than were made in any 7 days); on the way down, the
last day's count and its ISO week's sum are put back.

Revision ID: rewards_0004
Revises: rewards_0003
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

import services.common.db

revision: str = "rewards_0004"
down_revision: str | None = "rewards_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recent", sa.String(length=64), nullable=True))
    op.execute(
        "UPDATE contacts SET recent = CASE WHEN day_key = '' THEN '' ELSE "
        "CAST(day_count AS VARCHAR(8)) || ',' || CAST(week_count - day_count AS VARCHAR(8)) END"
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.alter_column("recent", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("week_count")
        batch_op.drop_column("week_key")
        batch_op.drop_column("day_count")
    op.create_table(
        "touch_fates",
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("touch_key", sa.String(length=96), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("customer_ref", sa.String(length=128), nullable=False),
        sa.Column("fate", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("deferrals", sa.Integer(), nullable=False),
        sa.Column("updated_at", services.common.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "touch_key"),
    )


def _old_counters(day_key: str, recent: str) -> tuple[int, str, int]:
    """(day_count, week_key, week_count) of the old row: the last day's touches and its ISO week's."""
    if not day_key or not recent:
        return 0, "", 0
    last = date.fromisoformat(day_key)
    year, week, weekday = last.isocalendar()
    counts = [int(n or 0) for n in recent.split(",")]
    return counts[0], f"{year}-W{week:02d}", sum(counts[: min(weekday, len(counts))])


def downgrade() -> None:
    op.drop_table("touch_fates")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("day_count", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("week_key", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("week_count", sa.Integer(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT customer_ref, day_key, recent FROM contacts")).all()
    for customer, day_key, recent in rows:
        day_count, week_key, week_count = _old_counters(str(day_key or ""), str(recent or ""))
        bind.execute(
            sa.text("UPDATE contacts SET day_count = :d, week_key = :wk, week_count = :w WHERE customer_ref = :c"),
            {"d": day_count, "wk": week_key, "w": week_count, "c": customer},
        )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.alter_column("day_count", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("week_key", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("week_count", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("recent")
