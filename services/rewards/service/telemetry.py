"""The rewards service's metrics and domain-event log lines.

Counted where it happens, once the call has committed: offer decisions by outcome
(`skylane_rewards_offers_total`). What lives in the database or in the running policy — each campaign's
budget total, reserved and spent, and its pacing price λ — is read by `refresh`, a periodic pass
(workers.py), so the Offer, Claim and Redeem calls pay nothing for it.

The same pass logs `campaign_budget_exhausted` (warning) once per campaign and budget (`total`, or `daily`
with its local day) when what is left cannot pay the campaign's cheapest coupon: each process logs it once
until the budget has room again (a config change or released reservations). The line carries the campaign id
and its counters, nothing about a customer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from services.common.after_commit import after_commit
from services.common.db import Database
from services.common.metrics import GaugeSnapshot, ServiceMetrics
from services.rewards.config import Campaign
from services.rewards.domain import contact
from services.rewards.domain.budget import Committed
from services.rewards.runtime import ConfigView, PolicyRuntime
from services.rewards.store import budget as budget_store

log = structlog.get_logger("skylane.rewards")

# Offer outcomes (skylane_rewards_offers_total{outcome}): the decision, or why no coupon was shown.
_NOT_OFFERED = {
    "NO_PROFITABLE_ARM": "no_reward",
    "BUDGET_EXHAUSTED": "budget_exhausted",
    "CONTACT_CAP_DAY": "capped",
    "CONTACT_CAP_WEEK": "capped",
    "CLAIM_LIMIT": "capped",
    "QUIET_HOURS": "quiet_hours",
    "OPTED_OUT": "opted_out",
    "NOT_ELIGIBLE": "not_eligible",
}


def offer_outcome(outcome: str, reason: str) -> str:
    """The `outcome` label of one decision: offered, holdout, or why not (a short, bounded list)."""
    if outcome == "OFFERED":
        return "offered"
    if outcome == "HOLDOUT":
        return "holdout"
    return _NOT_OFFERED.get(reason, "not_offered")


class RewardsTelemetry:
    def __init__(self, metrics: ServiceMetrics, db: Database, runtime: PolicyRuntime) -> None:
        self.db, self.runtime = db, runtime
        self._offers = metrics.collector("skylane_rewards_offers_total")
        self._offer_counters: dict[tuple[str, str, str], Any] = {}
        self._total = GaugeSnapshot(metrics.collector("skylane_rewards_budget_total_fen"))
        self._reserved = GaugeSnapshot(metrics.collector("skylane_rewards_budget_reserved_fen"))
        self._spent = GaugeSnapshot(metrics.collector("skylane_rewards_budget_spent_fen"))
        self._price = GaugeSnapshot(metrics.collector("skylane_rewards_pacing_price"))
        # (campaign, "total" or "daily") -> what was logged exhausted ("" or the local day)
        self._exhausted: dict[tuple[str, str], str] = {}

    def offer_decided(self, campaign: str, outcome: str, reason: str) -> None:
        """Called inside the Offer's unit of work: counted once it commits (a replay counts nothing)."""
        key = (campaign, outcome, reason)
        counter = self._offer_counters.get(key)
        if counter is None:  # a hot path: each (campaign, outcome, reason) looks its child up once
            counter = self._offer_counters[key] = self._offers.labels(campaign, offer_outcome(outcome, reason))
        after_commit(counter.inc)

    async def refresh(self, view: ConfigView, now: datetime) -> None:
        """Budgets from the database and λ from the running policy, for every configured campaign."""
        day = contact.day_key(now, view.tz)
        async with self.db.report() as session:
            stored = await budget_store.all_counters(session, day)
        campaigns = view.cfg.campaigns
        counters = {c.id: stored.get(c.id, Committed(0, 0, 0)) for c in campaigns}
        self._total.replace({c.id: c.budget.total_fen for c in campaigns})
        self._reserved.replace({cid: n.reserved_fen for cid, n in counters.items()})
        self._spent.replace({cid: n.spent_fen for cid, n in counters.items()})
        self._price.replace({c.id: self._lambda(view, c.id) for c in campaigns})
        for c in campaigns:
            self._watch_exhaustion(c, counters[c.id], day, view.arms[c.id][0].discount_fen if view.arms[c.id] else 0)

    def _lambda(self, view: ConfigView, campaign_id: str) -> float:
        """λ the campaign's allocation uses now (the initial price before its first offer here)."""
        policy = self.runtime.campaigns.get(campaign_id)
        return policy.pacer.lam if policy is not None else view.cfg.policy.lambda_initial

    def _watch_exhaustion(self, campaign: Campaign, n: Committed, day: str, cheapest_fen: int) -> None:
        budget = campaign.budget
        left_total = budget.total_fen - n.reserved_fen - n.spent_fen
        left_today = budget.daily_fen - n.today_fen
        self._once(
            (campaign.id, "total"),
            "",
            left_total < cheapest_fen,
            lambda: log.warning(
                "campaign_budget_exhausted",
                campaign=campaign.id,
                budget="total",
                total_fen=budget.total_fen,
                reserved_fen=n.reserved_fen,
                spent_fen=n.spent_fen,
                left_fen=left_total,
            ),
        )
        self._once(
            (campaign.id, "daily"),
            day,
            left_today < cheapest_fen,
            lambda: log.warning(
                "campaign_budget_exhausted",
                campaign=campaign.id,
                budget="daily",
                day=day,
                daily_fen=budget.daily_fen,
                committed_fen=n.today_fen,
                left_fen=left_today,
            ),
        )

    def _once(self, key: tuple[str, str], marker: str, exhausted: bool, report: Callable[[], None]) -> None:
        """Reports an exhaustion once per key and marker (a new local day is a new daily exhaustion)."""
        if not exhausted:
            self._exhausted.pop(key, None)
        elif self._exhausted.get(key) != marker:
            self._exhausted[key] = marker
            report()
