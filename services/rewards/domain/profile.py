"""Customer tags as the channel sends them, and the rules that match them (eligibility, segments)."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.rewards.config import Range, Segment, TagRule

OTHER_SEGMENT = "other"


@dataclass(frozen=True)
class Profile:
    """The big-data tags of seed 000: asset tier, age, payment interests, channel, monthly payments."""

    asset_tier: str = ""
    age: int = 0
    payment_interests: frozenset[str] = field(default_factory=frozenset)
    channel: str = ""
    monthly_payment_count: int = 0
    monthly_payment_fen: int = 0
    # Kept from the peers' events (service/peer_events.py), when a rule asks for them.
    growth_level: str = ""
    risk_destination: str = ""
    risk_tier: str = ""


def _in(rng: Range | None, value: int) -> bool:
    if rng is None:
        return True
    return (rng.min is None or value >= rng.min) and (rng.max is None or value <= rng.max)


def unmet(rule: TagRule, p: Profile) -> list[str]:
    """Names of the conditions the profile fails (empty: it matches); used to explain refusals."""
    failed = []
    if rule.asset_tiers and p.asset_tier not in rule.asset_tiers:
        failed.append("asset_tier")
    if not _in(rule.age, p.age):
        failed.append("age")
    if rule.payment_interests and not p.payment_interests.intersection(rule.payment_interests):
        failed.append("payment_interests")
    if rule.channels and p.channel not in rule.channels:
        failed.append("channel")
    if not _in(rule.monthly_payment_count, p.monthly_payment_count):
        failed.append("monthly_payment_count")
    if not _in(rule.monthly_payment_fen, p.monthly_payment_fen):
        failed.append("monthly_payment_fen")
    if rule.growth_levels and p.growth_level not in rule.growth_levels:
        failed.append("growth_level")
    if rule.excluded_risk and {p.risk_destination, p.risk_tier} & set(rule.excluded_risk):
        failed.append("risk")
    return failed


def segment_of(segments: list[Segment], p: Profile) -> str:
    """First configured segment whose rule matches; 'other' when none does."""
    for s in segments:
        if not unmet(s.when, p):
            return s.id
    return OTHER_SEGMENT
