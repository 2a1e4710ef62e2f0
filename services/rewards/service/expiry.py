"""Expiry: claimed coupons past their validity expire and give their reservation back to the campaign
total and to the day they were claimed on. Passes running at once (the loop, a second process) expire
each coupon once: they take disjoint batches, and the state guard settles a race with a redemption."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.common.db import Database
from services.rewards.runtime import ConfigView, PolicyRuntime
from services.rewards.service import budget, learning, outgoing
from services.rewards.store import coupons

BATCH = 500


class ExpireCoupons:
    def __init__(
        self, db: Database, runtime: PolicyRuntime, view: Callable[[], ConfigView], batch: int = BATCH
    ) -> None:
        self.db, self.runtime, self.view, self.batch = db, runtime, view, batch

    async def __call__(self, now: datetime) -> int:
        """Expires every coupon due at `now`, one transaction per batch; returns how many it expired."""
        expired = 0
        while True:
            async with self.db.transaction() as session:
                got = await coupons.expire_due(session, now, self.batch)
                if not got.due:
                    return expired
                await budget.release_expired(session, got.budget)
                await outgoing.coupons_expired(session, self.db.dialect, got.gone, now)
                expired += len(got.budget)
            learning.expired(self.runtime, self.view().cfg, got.learned)  # committed: the policy may learn it
            if got.due < self.batch:
                return expired
