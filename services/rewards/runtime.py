"""In-memory policy state of the running process: posteriors and pacers per campaign.

Posteriors are rebuilt from the decisions table at start (offers and their conversions are durable);
λ is flushed to policy_state periodically and at stop. Multiple processes each learn from their own
traffic between restarts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from services.rewards.config import Campaign, PolicyConfig, RewardsConfig
from services.rewards.domain.policy import ArmSpec, Pacer, PolicyParams, Posteriors
from services.rewards.domain.profile import OTHER_SEGMENT


@dataclass
class CampaignPolicy:
    posteriors: Posteriors
    pacer: Pacer


@dataclass
class PolicyRuntime:
    rng: random.Random = field(default_factory=random.Random)
    campaigns: dict[str, CampaignPolicy] = field(default_factory=dict)

    def params(self, cfg: RewardsConfig) -> PolicyParams:
        return policy_params(cfg.policy)

    def campaign(self, cfg: RewardsConfig, campaign_id: str) -> CampaignPolicy:
        found = self.campaigns.get(campaign_id)
        if found is None:
            p = cfg.policy
            found = CampaignPolicy(
                Posteriors(), Pacer(p.lambda_initial, p.lambda_min, p.lambda_max, p.pacing_interval_seconds)
            )
            self.campaigns[campaign_id] = found
        return found


def policy_params(p: PolicyConfig) -> PolicyParams:
    return PolicyParams(
        p.exploration,
        p.prior_alpha,
        p.prior_beta,
        p.monotone,
        p.propensity_draws,
        p.baseline_prior_alpha,
        p.baseline_prior_beta,
    )


def arm_specs(campaign: Campaign) -> list[ArmSpec]:
    return sorted((ArmSpec(a.id, a.discount_fen) for a in campaign.arms), key=lambda a: (a.discount_fen, a.id))


def segment_values(cfg: RewardsConfig, campaign: Campaign) -> dict[str, float]:
    values = {s.id: float(s.value_fen or campaign.conversion_value_fen) for s in cfg.segments}
    values[OTHER_SEGMENT] = float(campaign.conversion_value_fen)
    return values


def campaign_active(campaign: Campaign, now: datetime) -> bool:
    return campaign.start <= now < campaign.end
