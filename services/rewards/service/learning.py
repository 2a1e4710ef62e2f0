"""What the running policy learns from committed calls: trials from its offers, claims, successes from
their redemptions (taken back by a refund) or expiries, and holdout customers who paid anyway. Claims are
known at once where redemptions come days later, so a pending claim counts at the rate claims redeem
(domain/policy.py, ``Counts.converted``).

The policy learns from its own offers only (wave 0): fallback waves are a fixed arm whose trials it never
recorded, and the posteriors rebuilt at start-up count wave 0 alone. Each function appends to `learned`;
the unit of work applies it once committed (service/unit.py).
"""

from __future__ import annotations

from typing import Any

from services.rewards.config import RewardsConfig
from services.rewards.domain.policy import BASELINE, Posteriors
from services.rewards.runtime import PolicyRuntime
from services.rewards.service.unit import Learned


def trial(learned: Learned, posteriors: Posteriors, segment: str, arm: str) -> None:
    """An offer shown (or a holdout customer seen, arm BASELINE)."""
    learned.append(lambda: posteriors.record_trial(segment, arm))


def claimed(
    learned: Learned, runtime: PolicyRuntime, cfg: RewardsConfig, campaign_id: str, segment: str, arm: str
) -> None:
    """An offer of the policy's own (wave 0) was claimed."""
    posteriors = runtime.campaign(cfg, campaign_id).posteriors
    learned.append(lambda: posteriors.record_claim(segment, arm))


def expired(runtime: PolicyRuntime, cfg: RewardsConfig, cells: list[tuple[str, str, str]]) -> None:
    """Claimed coupons of the policy's own offers expired unredeemed: (campaign, segment, arm) each.
    Called once the expiry has committed."""
    for campaign_id, segment, arm in cells:
        runtime.campaign(cfg, campaign_id).posteriors.record_expiry(segment, arm)


def conversion(learned: Learned, runtime: PolicyRuntime, cfg: RewardsConfig, coupon: Any, *, converted: bool) -> None:
    """A redemption teaches the coupon's cell a success; its refund takes it back."""
    if coupon.is_fallback:
        return
    posteriors = runtime.campaign(cfg, coupon.campaign_id).posteriors
    segment, arm_id = coupon.segment, coupon.arm_id
    if converted:
        learned.append(lambda: posteriors.record_success(segment, arm_id))
    else:
        learned.append(lambda: posteriors.retract_success(segment, arm_id))


def holdout_conversion(
    learned: Learned, runtime: PolicyRuntime, cfg: RewardsConfig, campaign_id: str, segment: str
) -> None:
    """A holdout customer paid soon after their (non-)offer: a success of the no-coupon baseline."""
    posteriors = runtime.campaign(cfg, campaign_id).posteriors
    learned.append(lambda: posteriors.record_success(segment, BASELINE))
