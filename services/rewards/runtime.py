"""In-memory state of the running process: the config view and the policy state per campaign.

Posteriors are rebuilt from the decisions table at start (offers and their redemptions are durable);
λ is flushed to policy_state periodically and at stop. With several replicas, each also takes in the
others' outcomes periodically (service/policy_state.py) and paces with its share of the traffic
(services/common/replica_share.py). In-memory learning is applied only after the unit of work that justifies it
has committed, so a rolled-back call teaches the policy nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from services.common.replica_share import TrafficShare
from services.rewards.config import Campaign, PolicyConfig, RewardsConfig
from services.rewards.domain.policy import BASELINE, ArmSpec, Pacer, PolicyParams, Posteriors, PropensityCache
from services.rewards.domain.profile import OTHER_SEGMENT

# (kind, segment, arm, n, when the claim was made, when it happened): what a journal entry replays
Entry = tuple[str, str, str, int, datetime | None, datetime | None]


class SharedPosteriors(Posteriors):
    """The running policy's posteriors, with a journal of what this process learned since the replicas'
    outcomes were last taken in, so that taking them in (service/policy_state.py) keeps it."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: list[Entry] = []

    def record_trial(self, segment: str, arm: str, n: int = 1) -> None:
        super().record_trial(segment, arm, n)
        self.journal.append(("trial", segment, arm, n, None, None))

    def record_success(
        self, segment: str, arm: str, n: int = 1, claimed_at: datetime | None = None, at: datetime | None = None
    ) -> None:
        super().record_success(segment, arm, n, claimed_at, at)
        self.journal.append(("success", segment, arm, n, claimed_at, at))

    def record_claim(self, segment: str, arm: str, n: int = 1, at: datetime | None = None) -> None:
        super().record_claim(segment, arm, n, at)
        self.journal.append(("claim", segment, arm, n, None, at))

    def record_expiry(self, segment: str, arm: str, n: int = 1, claimed_at: datetime | None = None) -> None:
        super().record_expiry(segment, arm, n, claimed_at)
        self.journal.append(("expiry", segment, arm, n, claimed_at, None))

    def retract_success(
        self, segment: str, arm: str, claimed_at: datetime | None = None, redeemed_at: datetime | None = None
    ) -> None:
        super().retract_success(segment, arm, claimed_at, redeemed_at)
        self.journal.append(("retract", segment, arm, 1, claimed_at, redeemed_at))

    def record_pass(self, segment: str, n: int = 1) -> None:
        super().record_pass(segment, n)
        self.journal.append(("pass", segment, BASELINE, n, None, None))

    def record_pass_payment(self, segment: str, n: int = 1) -> None:
        super().record_pass_payment(segment, n)
        self.journal.append(("pass_payment", segment, BASELINE, n, None, None))

    def record_censor(self, segment: str, passed_at: datetime, at: datetime, n: int = 1) -> None:
        super().record_censor(segment, passed_at, at, n)
        self.journal.append(("censor", segment, BASELINE, n, passed_at, at))

    def replace_counts(self, fresh: Posteriors, since: int) -> None:
        """Takes `fresh`'s counts (what every replica recorded) plus this process's journal from position
        `since` on (learned after `fresh` was read), and empties the journal."""
        for entry in self.journal[since:]:
            fresh.record(*entry)
        self.cells = fresh.cells
        self.clock = fresh.clock
        self.untreated = fresh.untreated
        for segment in {s for s, _arm in self.cells} | set(self.untreated) | set(self.evidence):
            self._stamp(segment, 1 + fresh.evidence.get(segment, 0))  # change stamps only grow
        self.pooled.stamp = -1  # the pooled curve is rebuilt on the next read
        self.journal.clear()


@dataclass
class CampaignPolicy:
    posteriors: SharedPosteriors
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
    traffic: TrafficShare = field(default_factory=TrafficShare)  # this replica's share of the offers asked

    def params(self, cfg: RewardsConfig) -> PolicyParams:
        return policy_params(cfg.policy)

    def campaign(self, cfg: RewardsConfig, campaign_id: str) -> CampaignPolicy:
        found = self.campaigns.get(campaign_id)
        if found is None:
            p = cfg.policy
            found = CampaignPolicy(
                SharedPosteriors(), Pacer(p.lambda_initial, p.lambda_min, p.lambda_max, p.pacing_interval_seconds)
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
        passed_over=p.passed_over,
        baseline_window_days=float(p.baseline_window_days),
        horizon_tempering=p.horizon_tempering,
        chord_allowance=p.chord_allowance,
    )


def arm_specs(campaign: Campaign) -> list[ArmSpec]:
    return sorted((ArmSpec(a.id, a.discount_fen) for a in campaign.arms), key=lambda a: (a.discount_fen, a.id))


def segment_values(cfg: RewardsConfig, campaign: Campaign) -> dict[str, float]:
    values = {s.id: float(s.value_fen or campaign.conversion_value_fen) for s in cfg.segments}
    values[OTHER_SEGMENT] = float(campaign.conversion_value_fen)
    return values


def campaign_active(campaign: Campaign, now: datetime) -> bool:
    return campaign.start <= now < campaign.end
