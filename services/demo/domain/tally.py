"""What the demo saw the services answer during the day, counted as it goes (pure data)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class LeadSeen:
    lead_id: str
    channel: str
    tier: str
    applicant: int


@dataclass
class Tally:
    # Router
    applicants: int = 0
    by_channel: Counter[tuple[str, str]] = field(default_factory=Counter)  # (channel, destination)
    by_tier: Counter[str] = field(default_factory=Counter)
    decline_reasons: Counter[str] = field(default_factory=Counter)
    sticky: int = 0
    leads: list[LeadSeen] = field(default_factory=list)
    in_house: list[tuple[str, int]] = field(default_factory=list)  # (decision id, applicant) approved in-house
    drawn: int = 0
    drawn_fen: int = 0
    # Rewards
    moments: Counter[str] = field(default_factory=Counter)  # scene
    outcomes: Counter[str] = field(default_factory=Counter)  # OFFERED, HOLDOUT, NOT_OFFERED
    not_offered: Counter[str] = field(default_factory=Counter)  # reason
    offered_arms: Counter[tuple[str, str]] = field(default_factory=Counter)  # (campaign, arm)
    claims: int = 0
    claim_refusals: Counter[str] = field(default_factory=Counter)
    redeemed: int = 0
    redeem_refusals: Counter[str] = field(default_factory=Counter)
    discount_fen: int = 0
    coupon_gmv_fen: int = 0
    plain_payments: int = 0
    plain_gmv_fen: int = 0
    paying_customers: set[int] = field(default_factory=set)
    # Growth
    enrolled: int = 0
    new_members: int = 0
    history_activities: int = 0
    activities: Counter[str] = field(default_factory=Counter)  # type, today
    points_issued: int = 0  # today, available
    points_pending: int = 0  # today, pending (e.g. a loan's cooling-off)
    growth_issued: int = 0
    award_kinds: Counter[str] = field(default_factory=Counter)  # base, first_time, streak, referral
    levels: dict[str, str] = field(default_factory=dict)  # member ref → level now
    levels_at_start: dict[str, str] = field(default_factory=dict)  # after their history, before the day
    level_ups: Counter[tuple[str, str]] = field(default_factory=Counter)
    rights_redeemed: Counter[str] = field(default_factory=Counter)
    rights_points: int = 0
    rights_members: set[str] = field(default_factory=set)
    rights_refusals: Counter[str] = field(default_factory=Counter)
    rights_browsed: int = 0
    active_members: set[str] = field(default_factory=set)
    earning_members: set[str] = field(default_factory=set)  # earned points or growth today
    # Anything the services refused or failed that the world did not expect
    errors: Counter[str] = field(default_factory=Counter)
    settled_deliveries: int = 0

    def level(self, ref: str, level: str) -> None:
        if not level:
            return
        before = self.levels.get(ref)
        if before is not None and before != level and ref in self.levels_at_start:
            self.level_ups[(before, level)] += 1
        self.levels[ref] = level
