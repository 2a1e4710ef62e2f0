"""The simulated market of a scenario: who arrives when, how each segment truly responds on each day, and
the oracle's view of the run. Drawn once per seed, so every policy meets the same customers."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.rewards.config import ContactPolicy
from services.rewards.domain import contact, holdout
from services.rewards.domain.policy import NONE, ArmSpec
from services.rewards.sim.bound import DayGroup, DayOption
from services.rewards.sim.scenario import Scenario

SIM_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Arrival:
    at: datetime
    day: int
    customer: str
    segment: str
    held_out: bool
    touched_elsewhere_today: int  # other campaigns' touches of this customer so far today
    touched_elsewhere_week: int  # ... and in the 7 days up to this visit


@dataclass(frozen=True)
class Truth:
    """One segment's true response on one day."""

    base_rate: float
    rates: dict[str, float]

    def rate(self, arm: str) -> float:
        return self.base_rate if arm == NONE else self.rates[arm]


def may_touch(a: Arrival, own: list[datetime], caps: ContactPolicy) -> bool:
    """The contact caps at this visit: other campaigns' touches so far plus this campaign's own, in the
    calendar day and in the last 7 days (today and the 6 before), as production counts them."""
    week_start = a.at.date() - timedelta(days=contact.WINDOW_DAYS - 1)
    today = a.touched_elsewhere_today + sum(1 for t in own if t.date() == a.at.date())
    this_week = a.touched_elsewhere_week + sum(1 for t in own if t.date() >= week_start)
    return contact.cap_reached(contact.ContactState(False, today, this_week), caps) is None


class Market:
    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.arms = sorted((ArmSpec(a.id, a.discount_fen) for a in sc.arms), key=lambda a: a.discount_fen)
        self.face = {a.id: a.discount_fen for a in sc.arms}
        self.validity = {a.id: a.validity_days for a in sc.arms}
        self.value = {s.id: float(s.value_fen) for s in sc.segments}
        self.truth, self.shares = self._truth_by_day()
        self.days: list[list[Arrival]] = self._arrivals()

    def _truth_by_day(self) -> tuple[list[dict[str, Truth]], list[dict[str, float]]]:
        now = {s.id: Truth(s.base_rate, dict(s.rates)) for s in self.sc.segments}
        share = {s.id: s.share for s in self.sc.segments}
        truth, shares = [], []
        for day in range(self.sc.days):
            for d in (d for d in self.sc.drift if d.day == day):
                old = now[d.segment]
                base = old.base_rate if d.base_rate is None else d.base_rate
                now[d.segment] = Truth(base, {**old.rates, **d.rates})
                if d.share is not None:
                    share[d.segment] = d.share
            truth.append(dict(now))
            shares.append(dict(share))
        return truth, shares

    def _arrivals(self) -> list[list[Arrival]]:
        sc = self.sc
        rng = random.Random(sc.seed)
        home: dict[str, str] = {}  # a repeat customer keeps their segment
        elsewhere: dict[str, list[datetime]] = {}
        days = []
        for day in range(sc.days):
            start = SIM_START + timedelta(days=day)
            n = round(sc.arrivals_per_day * sc.weekday_factors[start.weekday()])
            ids, weights = zip(*self.shares[day].items(), strict=True)
            today = []
            for i, seg in enumerate(rng.choices(ids, weights=weights, k=n)):
                at = start + timedelta(days=(i + rng.random()) / max(n, 1))
                cust = self._customer(rng, day, i, seg, home)
                touches = elsewhere.setdefault(cust, []) if sc.other_touches_per_day else []
                if sc.other_touches_per_day:
                    self._touch_elsewhere(rng, touches, at)
                held = holdout.assign(sc.name, cust, sc.holdout_share) == holdout.HOLDOUT
                week_start = at.date() - timedelta(days=contact.WINDOW_DAYS - 1)
                today.append(
                    Arrival(
                        at,
                        day,
                        cust,
                        home.get(cust, seg),
                        held,
                        sum(1 for t in touches if t.date() == at.date() and t <= at),
                        sum(1 for t in touches if t.date() >= week_start and t <= at),
                    )
                )
            days.append(today)
        return days

    def _customer(self, rng: random.Random, day: int, i: int, seg: str, home: dict[str, str]) -> str:
        if self.sc.customers is None:
            return f"sim-{day}-{i}"
        # Customers are numbered per segment so that a returning customer keeps the segment it had.
        per_segment = max(1, round(self.sc.customers * self.shares[0].get(seg, 0) / sum(self.shares[0].values())))
        cust = f"sim-{seg}-{rng.randrange(per_segment)}"
        home.setdefault(cust, seg)
        return cust

    def _touch_elsewhere(self, rng: random.Random, touches: list[datetime], until: datetime) -> None:
        """Other campaigns touch the customer as a Poisson process, drawn lazily up to this arrival.

        The process starts a contact window before the campaign: other campaigns were running before this
        one began, so on its first day a customer's week already holds their touches, as in production.
        Started with the campaign, every customer would begin with an empty week, the first days would let
        through far more visits than any later week, and a pacer would be judged on a surge no market has."""
        last = touches[-1] if touches else SIM_START - timedelta(days=contact.WINDOW_DAYS)
        rate = self.sc.other_touches_per_day
        # The first touch after `until` is kept (the counts take touches up to the visit only): drawn again
        # from the last touch at the next visit, the gap could land before this visit, in time already
        # known to hold no touch, and a customer who visits often would be touched more than the rate says.
        # A gap past the end of the run is cut there: the touch lies beyond every visit either way, and a rate
        # of almost nothing would otherwise draw gaps past the last date datetime can hold.
        beyond = (until - last).days + self.sc.days + contact.WINDOW_DAYS + 1
        while last <= until:
            last += timedelta(days=min(rng.expovariate(rate), beyond))
            touches.append(last)
        del touches[:-64]

    def rate(self, day: int, segment: str, arm: str) -> float:
        return self.truth[min(day, len(self.truth) - 1)][segment].rate(arm)

    def claim_rate(self, day: int, segment: str, arm: str) -> float:
        """P(claim | offered): payers claim, and so do others until claimants redeem at redeem_given_claim."""
        return min(1.0, self.rate(day, segment, arm) / self.sc.redeem_given_claim)

    def uplift_value(self, day: int, segment: str, arm: str) -> float:
        kept = 1 - self.sc.refund_rate  # a refunded order is no conversion
        return (self.rate(day, segment, arm) - self.rate(day, segment, NONE)) * kept * self.value[segment]

    def expected_spend(self, day: int, segment: str, arm: str) -> float:
        return self.rate(day, segment, arm) * (1 - self.sc.refund_rate) * self.face[arm]

    def contactable(self, a: Arrival) -> bool:
        """Not held out, and other campaigns left room under the contact caps."""
        caps = self.sc.contact
        return not a.held_out and a.touched_elsewhere_today < caps.per_day and a.touched_elsewhere_week < caps.per_week

    def oracle_groups(self) -> list[DayGroup]:
        """Per day and segment, the customers any policy could offer to, with every arm's true economics."""
        groups = []
        # A coupon dearer than the day's budget (or the total) can never be claimed, so no policy gains from
        # offering it; the LP, which would hold a fraction of one, leaves it out.
        held_at_most = min(self.sc.budget.daily_fen, self.sc.budget.total_fen)
        for day, arrivals in enumerate(self.days):
            counts: dict[str, int] = {}
            for a in arrivals:
                if self.contactable(a):
                    counts[a.segment] = counts.get(a.segment, 0) + 1
            for seg, n in counts.items():
                options = [
                    DayOption(
                        arm.id,
                        self.expected_spend(day, seg, arm.id),
                        self.claim_rate(day, seg, arm.id) * arm.discount_fen,
                        self.uplift_value(day, seg, arm.id),
                        (self.claim_rate(day, seg, arm.id) - self.rate(day, seg, arm.id)) * arm.discount_fen,
                        self.validity[arm.id],
                    )
                    for arm in self.arms
                    if arm.discount_fen <= held_at_most
                ]
                groups.append(DayGroup(f"{day}/{seg}", day, seg, n, options))
        return groups

    def touch_limits(self) -> dict[str, float] | None:
        """Per segment, the most offers its customers could receive under the contact caps: each customer
        offered at every visit the caps allow (offering as early as possible never lowers the count, since
        a touch only ever uses up room). None when every arrival is a new customer."""
        if self.sc.customers is None:
            return None
        own: dict[str, list[datetime]] = {}
        limits: dict[str, float] = {}
        for arrivals in self.days:
            for a in arrivals:
                touches = own.setdefault(a.customer, [])
                if self.contactable(a) and may_touch(a, touches, self.sc.contact):
                    touches.append(a.at)
                    limits[a.segment] = limits.get(a.segment, 0.0) + 1
        return limits
