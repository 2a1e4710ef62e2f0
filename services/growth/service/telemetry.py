"""The growth service's metrics and domain-event log lines.

Counted where the points move, inside the unit of work and only once it has committed (a refused call, a
dry run or a replay counts nothing): `skylane_growth_points_total{kind}` — `issued` (awards credited, and
pending awards confirmed), `spent` (spends, confirmed spend holds and redemptions), `expired`, and the two
corrections `reversed` (issued points taken back) and `refunded` (spent points given back) — and
`skylane_growth_redemptions_total{right}` when a redemption is confirmed (the voucher issued).

What lives in the database — the points liability and each right's stock — is read by `refresh`, a
periodic pass (workers.py), so no call pays for a sum.

Log events: `level_changed` (member, from, to, why), once per change, after its commit. A member is named
by its customer reference (a hash), never by name or phone.
"""

from __future__ import annotations

import functools

import structlog

from services.common.after_commit import after_commit
from services.common.db import Database
from services.common.metrics import GaugeSnapshot, ServiceMetrics
from services.growth.config import GrowthConfig
from services.growth.store import members
from services.growth.store import rights as rights_store

log = structlog.get_logger("skylane.growth")

ISSUED, SPENT, EXPIRED, REVERSED, REFUNDED = "issued", "spent", "expired", "reversed", "refunded"


class GrowthTelemetry:
    def __init__(self, metrics: ServiceMetrics) -> None:
        points = metrics.collector("skylane_growth_points_total")
        # Every kind from the first scrape on (0 until points move), so rates and sums see it.
        self._points = {kind: points.labels(kind) for kind in (ISSUED, SPENT, EXPIRED, REVERSED, REFUNDED)}
        self._redemptions = metrics.collector("skylane_growth_redemptions_total")
        self._liability = metrics.collector("skylane_growth_points_liability")
        self._stock = GaugeSnapshot(metrics.collector("skylane_growth_right_stock"))

    def points(self, kind: str, amount: int) -> None:
        """Points moved by the unit of work in progress (counted once it commits)."""
        if amount > 0:
            after_commit(functools.partial(self._points[kind].inc, amount))

    def redeemed(self, right_id: str) -> None:
        after_commit(self._redemptions.labels(right_id).inc)

    async def refresh(self, db: Database, cfg: GrowthConfig) -> None:
        """The liability and every configured right's stock left, from the database."""
        async with db.report() as session:
            outstanding = await members.points_outstanding(session)
            used = await rights_store.stock_used(session)
        self._liability.set(outstanding)
        self._stock.replace({r.id: max(0, r.stock - used.get(r.id, 0)) for r in cfg.rights})


def level_changed(member: str, old: str, new: str, why: str) -> None:
    """A member's level changed (an upgrade, a review, a grace period ending): logged once it commits."""
    after_commit(functools.partial(log.info, "level_changed", member=member, from_level=old, to_level=new, why=why))
