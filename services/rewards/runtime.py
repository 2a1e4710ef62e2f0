"""In-memory state of the running process: the config view and the policy state per campaign.

Posteriors are rebuilt from the decisions table at start (offers and their redemptions are durable);
λ is flushed to policy_state periodically and at stop. Multiple processes each learn from their own
traffic between restarts. In-memory learning is applied only after the unit of work that justifies it
has committed, so a rolled-back call teaches the policy nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from services.rewards.config import Campaign, PolicyConfig, RewardsConfig
from services.rewards.domain.policy import ArmSpec, Pacer, PolicyParams, Posteriors, PropensityCache
from services.rewards.domain.profile import OTHER_SEGMENT


@dataclass
class CampaignPolicy:
    posteriors: Posteriors
    pacer: Pacer
    propensities: PropensityCache = field(default_factory=PropensityCache)


@dataclass(frozen=True)
class ConfigView:
    """What the hot RPCs derive from one config version, computed once per version."""

    version: str
    cfg: RewardsConfig
    tz: ZoneInfo
    params: PolicyParams
    campaigns: dict[str, Campaign]
    arms: dict[str, list[ArmSpec]]  # per campaign, sorted by discount
    values: dict[str, dict[str, float]]  # per campaign: segment -> value of a conversion
    in_scene: dict[str, list[str]]  # scene -> campaign ids running in it (config order)
    opt_out: frozenset[str]  # customer refs ops opted out in config

    @staticmethod
    def build(version: str, cfg: RewardsConfig) -> ConfigView:
        in_scene: dict[str, list[str]] = {scene: [] for scene in cfg.scenes}
        for c in cfg.campaigns:
            for scene in c.scenes:
                in_scene.setdefault(scene, []).append(c.id)
        return ConfigView(
            version=version,
            cfg=cfg,
            tz=ZoneInfo(cfg.timezone),
            params=policy_params(cfg.policy),
            campaigns={c.id: c for c in cfg.campaigns},
            arms={c.id: arm_specs(c) for c in cfg.campaigns},
            values={c.id: segment_values(cfg, c) for c in cfg.campaigns},
            in_scene=in_scene,
            opt_out=frozenset(cfg.contact.opt_out),
        )

    def redeemable_in(self, scene: str, merchant_id: str) -> list[str]:
        """Campaigns whose coupons may be used at this scene and merchant."""
        return [
            cid
            for cid in self.in_scene.get(scene, [])
            if not self.campaigns[cid].merchants or merchant_id in self.campaigns[cid].merchants
        ]


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
        p.pooling,
    )


def arm_specs(campaign: Campaign) -> list[ArmSpec]:
    return sorted((ArmSpec(a.id, a.discount_fen) for a in campaign.arms), key=lambda a: (a.discount_fen, a.id))


def segment_values(cfg: RewardsConfig, campaign: Campaign) -> dict[str, float]:
    values = {s.id: float(s.value_fen or campaign.conversion_value_fen) for s in cfg.segments}
    values[OTHER_SEGMENT] = float(campaign.conversion_value_fen)
    return values


def campaign_active(campaign: Campaign, now: datetime) -> bool:
    return campaign.start <= now < campaign.end
