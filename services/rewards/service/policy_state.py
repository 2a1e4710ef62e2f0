"""What the policy learned survives a restart: the posteriors are rebuilt at start from the recorded
decisions (offers and their redemptions are durable), and λ — which only the running pacer knows — is
flushed per campaign periodically and at stop, so pacing resumes where it was."""

from __future__ import annotations

from datetime import datetime

from services.common.db import Database
from services.rewards.config import RewardsConfig
from services.rewards.domain.policy import BASELINE
from services.rewards.runtime import PolicyRuntime
from services.rewards.store import policy_state


class PolicyState:
    def __init__(self, db: Database, runtime: PolicyRuntime) -> None:
        self.db, self.runtime = db, runtime

    async def load(self, cfg: RewardsConfig) -> None:
        """Rebuilds the posteriors from the policy's own decisions, and λ from its last flush."""
        async with self.db.report() as session:
            for row in await policy_state.learned_outcomes(session):
                campaign_id, segment, arm, outcome, n, wins, claims, expired = row
                posteriors = self.runtime.campaign(cfg, campaign_id).posteriors
                key = BASELINE if outcome == "HOLDOUT" else arm
                posteriors.record_trial(segment, key, int(n))
                posteriors.record_success(segment, key, int(wins or 0))
                if key != BASELINE:
                    posteriors.record_claim(segment, key, int(claims or 0))
                    posteriors.record_expiry(segment, key, int(expired or 0))
            for campaign_id, lam in await policy_state.lambdas(session):
                self.runtime.campaign(cfg, campaign_id).pacer.lam = lam

    async def flush(self, now: datetime) -> None:
        """Persists λ of every campaign the running policy has seen."""
        if not self.runtime.campaigns:
            return
        async with self.db.transaction() as session:
            for campaign_id, state in sorted(self.runtime.campaigns.items()):
                await policy_state.save_lambda(session, self.db.dialect, campaign_id, state.pacer.lam, now)
