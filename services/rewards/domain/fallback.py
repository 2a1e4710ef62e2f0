"""The fallback (兜底) offer: a fixed arm sent in waves to customers who claimed a coupon and have not
redeemed in the campaign. It is a touch like any other, so it stays within the contact policy."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.rewards.config import Fallback


def wave_due(fallback: Fallback, claimed_at: datetime, sent: int) -> datetime:
    """When wave `sent + 1` is due: `delay_hours` after the claim, then every `wave_interval_hours`."""
    return claimed_at + timedelta(hours=fallback.delay_hours + sent * fallback.wave_interval_hours)


def reason(sent: int) -> str:
    """The decision's reason for wave `sent + 1`."""
    return f"FALLBACK_WAVE_{sent + 1}"


def claimed_by(fallback: Fallback, now: datetime) -> datetime:
    """Only coupons claimed by this moment can have a wave due: the first wave's delay has passed."""
    return now - timedelta(hours=fallback.delay_hours)
