"""What the running policy learns from committed calls: trials from its offers, claims, successes from
their redemptions (taken back by a refund) or expiries, and holdout customers who paid anyway. Claims are
known at once where redemptions come days later, so a pending claim counts at the chance it still
redeems, which the campaign's claim clock estimates from each claim's age (domain/policy.py,
``ClaimClock``): claims, redemptions and expiries come with their times.

The policy learns from its own offers only (wave 0): fallback waves are a fixed arm whose trials it never
recorded, and the posteriors rebuilt at start-up count wave 0 alone. Each function appends to `learned`;
the unit of work applies it once committed (service/unit.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from services.rewards.config import RewardsConfig
from services.rewards.domain.policy import BASELINE, Posteriors
from services.rewards.runtime import PolicyRuntime
from services.rewards.service.unit import Learned
from services.rewards.store import decisions


def trial(learned: Learned, posteriors: Posteriors, segment: str, arm: str) -> None:
    """An offer shown (or a holdout customer seen, arm BASELINE)."""
    learned.append(lambda: posteriors.record_trial(segment, arm))


def claimed(
    learned: Learned,
    runtime: PolicyRuntime,
    cfg: RewardsConfig,
    campaign_id: str,
    segment: str,
    arm: str,
    at: datetime,
) -> None:
    """An offer of the policy's own (wave 0) was claimed at `at` (the claim clock ages it from then)."""
    posteriors = runtime.campaign(cfg, campaign_id).posteriors
    learned.append(lambda: posteriors.record_claim(segment, arm, at=at))


def expired(runtime: PolicyRuntime, cfg: RewardsConfig, cells: list[tuple[str, str, str, datetime]]) -> None:
    """Claimed coupons of the policy's own offers expired unredeemed: (campaign, segment, arm, claimed at)
    each. Called once the expiry has committed."""
    for campaign_id, segment, arm, claimed_at in cells:
        runtime.campaign(cfg, campaign_id).posteriors.record_expiry(segment, arm, claimed_at=claimed_at)


def _taught_by(runtime: PolicyRuntime, cfg: RewardsConfig, coupon: Any) -> Posteriors | None:
    """The posteriors a coupon's redemption or refund teaches: its campaign's, unless a fallback wave sent it
    (only the policy's own offers teach it)."""
    return None if coupon.is_fallback else runtime.campaign(cfg, coupon.campaign_id).posteriors


def conversion(learned: Learned, runtime: PolicyRuntime, cfg: RewardsConfig, coupon: Any, *, at: datetime) -> None:
    """A redemption at `at` teaches the coupon's cell a success, and the claim clock how long it took."""
    posteriors = _taught_by(runtime, cfg, coupon)
    if posteriors is None:
        return
    segment, arm_id, claimed_at = coupon.segment, coupon.arm_id, coupon.claimed_at
    learned.append(lambda: posteriors.record_success(segment, arm_id, claimed_at=claimed_at, at=at))


def refunded(
    learned: Learned,
    runtime: PolicyRuntime,
    cfg: RewardsConfig,
    coupon: Any,
    *,
    redeemed_at: datetime,
    lapsed: bool,
) -> None:
    """A refund takes the redemption's success back: the claim is pending again while the coupon can
    still be used, and expired if it is past its validity (as the refund stores the coupon)."""
    posteriors = _taught_by(runtime, cfg, coupon)
    if posteriors is None:
        return
    segment, arm_id, claimed_at = coupon.segment, coupon.arm_id, coupon.claimed_at

    def retract() -> None:
        posteriors.retract_success(segment, arm_id, claimed_at=claimed_at, redeemed_at=redeemed_at)
        if lapsed:
            posteriors.record_expiry(segment, arm_id, claimed_at=claimed_at)

    learned.append(retract)


def holdout_conversion(
    learned: Learned, runtime: PolicyRuntime, cfg: RewardsConfig, campaign_id: str, segment: str
) -> None:
    """A holdout customer paid soon after their (non-)offer: a success of the no-coupon baseline."""
    posteriors = runtime.campaign(cfg, campaign_id).posteriors
    learned.append(lambda: posteriors.record_success(segment, BASELINE))


def passed(learned: Learned, posteriors: Posteriors, segment: str) -> None:
    """A visit the policy passed over, of a customer the campaign never offered a coupon: a no-coupon trial."""
    learned.append(lambda: posteriors.record_pass(segment))


def pass_conversion(
    learned: Learned, runtime: PolicyRuntime, cfg: RewardsConfig, campaign_id: str, segment: str
) -> None:
    """A passed-over customer paid within the window, never offered a coupon by the campaign meanwhile."""
    posteriors = runtime.campaign(cfg, campaign_id).posteriors
    learned.append(lambda: posteriors.record_pass_payment(segment))


async def censor_passes(
    conn: AsyncConnection,
    learned: Learned,
    posteriors: Posteriors,
    campaign_id: str,
    customer: str,
    since: datetime,
    at: datetime,
) -> None:
    """The campaign's first offer to the customer at `at` (requested or triggered) censors their visits passed
    over since `since` that have not paid; read before that offer is recorded."""
    passes = await decisions.open_passes(conn, campaign_id, customer, since)
    censored(learned, posteriors, [(str(segment), passed_at) for segment, passed_at in passes], at)


def censored(learned: Learned, posteriors: Posteriors, passes: list[tuple[str, datetime]], at: datetime) -> None:
    """The customer's first offer at `at` censors their passed-over visits (segment, when) that have not paid."""

    def censor() -> None:
        for segment, passed_at in passes:
            posteriors.record_censor(segment, passed_at, at)

    if passes:
        learned.append(censor)
