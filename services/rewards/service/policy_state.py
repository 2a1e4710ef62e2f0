"""What the policy learned survives a restart: the posteriors are rebuilt at start from the recorded
decisions (offers and their redemptions are durable), and λ — which only the running pacer knows — is
flushed per campaign periodically and at stop, so pacing resumes where it was.

With several replicas, each learns live from its own calls only, so each also takes in every replica's
recorded outcomes periodically (`take_in`): the posteriors are rebuilt from the decisions, keeping what
this process learned while they were read. A lone process skips the read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.common.db import Database
from services.rewards.config import RewardsConfig
from services.rewards.domain.policy import BASELINE, Posteriors
from services.rewards.runtime import PolicyRuntime
from services.rewards.store import policy_state


def _set_claim_clocks(fresh: dict[str, Posteriors], pending: list[Any], redeemed: list[Any], lapsed: list[Any]) -> None:
    """The claim clocks as the running policy keeps them: pending claims by the hour they were made, the
    redemptions and their delays, the count of expiries (store/policy_state.py, ``claim_clocks``, already
    aggregated per campaign and claim hour)."""
    for campaign_id, hour, n, latest in pending:
        fresh.setdefault(campaign_id, Posteriors()).clock.add_pending(int(hour), int(n), latest)
    for campaign_id, n, hours, latest in redeemed:
        fresh.setdefault(campaign_id, Posteriors()).clock.add_redeemed(int(n or 0), float(hours or 0.0), latest)
    for campaign_id, n, latest in lapsed:
        fresh.setdefault(campaign_id, Posteriors()).clock.add_expired(int(n), latest)


def _set_passes(fresh: dict[str, Posteriors], passes: list[Any], censored: list[Any]) -> None:
    """The passed-over visits as the running policy keeps them (store/policy_state.py, ``passed_over``)."""
    for campaign_id, segment, n, paid in passes:
        posteriors = fresh.setdefault(campaign_id, Posteriors())
        posteriors.record_pass(segment, int(n))
        posteriors.record_pass_payment(segment, int(paid or 0))
    for campaign_id, segment, hour, n in censored:
        fresh.setdefault(campaign_id, Posteriors()).add_censored(segment, int(hour), int(n))


class PolicyState:
    def __init__(self, db: Database, runtime: PolicyRuntime) -> None:
        self.db, self.runtime = db, runtime

    async def load(self, cfg: RewardsConfig) -> None:
        """Rebuilds the posteriors from the policy's own decisions, and λ from its last flush."""
        await self._rebuild(cfg)
        async with self.db.report() as session:
            for campaign_id, lam in await policy_state.lambdas(session):
                self.runtime.campaign(cfg, campaign_id).pacer.lam = lam

    async def take_in(self, cfg: RewardsConfig) -> bool:
        """Every replica's outcomes into this process's posteriors, when other replicas are serving;
        returns whether it read them."""
        if self.runtime.traffic.replicas <= 1:
            for state in self.runtime.campaigns.values():
                state.posteriors.journal.clear()  # nothing to keep it for
            return False
        await self._rebuild(cfg)
        return True

    async def _rebuild(self, cfg: RewardsConfig) -> None:
        since = {cid: len(state.posteriors.journal) for cid, state in self.runtime.campaigns.items()}
        fresh: dict[str, Posteriors] = {cid: Posteriors() for cid in since}
        async with self.db.report() as session:
            rows = await policy_state.learned_outcomes(session)
            pending, redeemed, lapsed = await policy_state.claim_clocks(session, self.db.dialect)
            passes, censored = (
                await policy_state.passed_over(session, self.db.dialect, cfg.policy.baseline_window_days)
                if cfg.policy.passed_over
                else ([], [])
            )
        for campaign_id, segment, arm, outcome, n, wins, claims, expired in rows:
            posteriors = fresh.setdefault(campaign_id, Posteriors())
            key = BASELINE if outcome == "HOLDOUT" else arm
            posteriors.record_trial(segment, key, int(n))
            posteriors.record_success(segment, key, int(wins or 0))
            if key != BASELINE:
                posteriors.record_claim(segment, key, int(claims or 0))
                posteriors.record_expiry(segment, key, int(expired or 0))
        _set_claim_clocks(fresh, pending, redeemed, lapsed)
        _set_passes(fresh, passes, censored)
        for campaign_id, posteriors in fresh.items():
            # What this process learned while the rows were read is not in them: it is kept (a campaign
            # first seen meanwhile keeps its whole journal).
            live = self.runtime.campaign(cfg, campaign_id).posteriors
            live.replace_counts(posteriors, since.get(campaign_id, 0))

    async def flush(self, now: datetime) -> None:
        """Persists λ of every campaign the running policy has seen."""
        if not self.runtime.campaigns:
            return
        async with self.db.transaction() as session:
            for campaign_id, state in sorted(self.runtime.campaigns.items()):
                await policy_state.save_lambda(session, self.db.dialect, campaign_id, state.pacer.lam, now)
