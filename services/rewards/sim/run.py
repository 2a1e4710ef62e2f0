"""One policy's run through a simulated market, with the budget moving as production moves it.

An offer is a touch (it counts against the contact caps). A customer offered a coupon claims it or not;
a claim reserves its face value against the campaign total and the day's budget (refused when either is
short, as Claim refuses); the coupon is then redeemed within its validity (the reservation becomes spend)
or expires (the reservation is given back); a redemption may be refunded later (the spend is given back).
What the learner is told follows production: a trial when an offer is shown, a claim, a success when its
coupon is redeemed (taken back by a refund) or an expiry, and holdout customers' own payments; a visit
passed over while the customer was never offered a coupon, its payment, and its censoring at the
customer's first offer — each reaching it in batches.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.rewards.domain.policy import BASELINE, NONE
from services.rewards.sim.market import SIM_START, Arrival, Market, may_touch

Chooser = Callable[[Arrival, int, int], str]  # arrival, total headroom, today's headroom -> arm or NONE
# kind (trial | claim | success | expiry | retract | pass | pass_payment | censor), segment, arm, when the claim
# was made (the visit passed over, for censor), when it happened
Learn = Callable[[str, str, str, datetime | None, datetime | None], None]
Lesson = tuple[str, str, str, datetime | None, datetime | None]
BASELINE_WINDOW_DAYS = 7  # a no-coupon payment this soon after the visit counts (production's baseline_window_days)


@dataclass
class RunResult:
    name: str
    offers: int = 0
    claims: int = 0
    refused_claims: int = 0  # claims the budget refused
    unfunded_offers: int = 0  # offers of a coupon the budget could no longer hold (credited no value)
    capped: int = 0  # arrivals the contact caps kept from an offer
    redemptions: int = 0
    incremental_value: float = 0.0  # expected, under the true responses, fen
    expected_spend: float = 0.0  # expected face value paid out, fen
    spend: int = 0  # realised face value paid out (net of refunds), fen
    peak_committed: int = 0  # the most spend + reservations ever held at once
    days_over_cap: int = 0  # days whose claimed face value went over the daily budget
    daily_value: list[float] = field(default_factory=list)  # cumulative incremental value at each day's end
    daily_spend: list[float] = field(default_factory=list)  # cumulative expected spend at each day's end
    overspend: int = 0  # how far spend + reservations ever went over the total budget (must stay 0)


@dataclass
class _Ledger:
    total: int
    daily: int
    reserved: int = 0
    spent: int = 0
    claimed_on: dict[int, int] = field(default_factory=dict)
    peak: int = 0

    def headroom(self, day: int) -> tuple[int, int]:
        return self.total - self.reserved - self.spent, self.daily - self.claimed_on.get(day, 0)

    def reserve(self, day: int, face: int) -> bool:
        total_left, today_left = self.headroom(day)
        if face > total_left or face > today_left:
            return False
        self.reserved += face
        self.claimed_on[day] = self.claimed_on.get(day, 0) + face
        self.peak = max(self.peak, self.reserved + self.spent)
        return True


@dataclass
class _Customer:
    claims: int = 0
    touches: list[datetime] = field(default_factory=list)
    # Visits passed over before the campaign first offered this customer a coupon: (visit, its payment's
    # event number or 0 when the visit does not pay), censored at that first offer.
    passed: list[tuple[datetime, int]] = field(default_factory=list)


class Run:
    def __init__(self, market: Market, name: str, chooser: Chooser, learn: Learn | None, outcome_seed: int) -> None:
        self.m, self.sc = market, market.sc
        self.chooser, self.learn = chooser, learn
        self.rng = random.Random(outcome_seed)  # the same draws for every policy
        self.res = RunResult(name)
        self.ledger = _Ledger(self.sc.budget.total_fen, self.sc.budget.daily_fen)
        self.events: list[tuple[datetime, int, str, tuple[str, str, int, datetime]]] = []
        self.lessons: list[Lesson] = []
        self.customers: dict[str, _Customer] = {}
        self.seq = 0
        self.pass_rng = random.Random(outcome_seed + 17)  # passed-over payments' delays (offers' draws untouched)
        self.cancelled: set[int] = set()  # passed-over payments censored by an offer before they came
        self.paid: set[int] = set()  # passed-over payments already reported

    def run(self, on_batch: Callable[[], None] | None = None) -> RunResult:
        batches = self.sc.feedback_batches_per_day
        for day, arrivals in enumerate(self.m.days):
            next_batch = 1
            for a in arrivals:
                while a.at >= SIM_START + timedelta(days=day + next_batch / batches):
                    self._teach(on_batch)
                    next_batch += 1
                self._settle(a.at)
                self._arrive(a)
            self._settle(SIM_START + timedelta(days=day + 1))
            self._teach(on_batch)
            self.res.daily_value.append(self.res.incremental_value)
            self.res.daily_spend.append(self.res.expected_spend)
        self._settle(datetime.max.replace(tzinfo=SIM_START.tzinfo))
        self.res.spend = self.ledger.spent
        self.res.peak_committed = self.ledger.peak
        self.res.days_over_cap = sum(1 for v in self.ledger.claimed_on.values() if v > self.ledger.daily)
        self.res.overspend = max(0, self.ledger.peak - self.ledger.total)
        return self.res

    # --- arrivals -------------------------------------------------------------------------------------

    def _arrive(self, a: Arrival) -> None:
        u = self.rng.random()
        if a.held_out:
            self._hold_out(a, u)
            return
        cust = self.customers.setdefault(a.customer, _Customer())
        if self.sc.claims_per_customer is not None and cust.claims >= self.sc.claims_per_customer:
            return
        if not may_touch(a, cust.touches, self.sc.contact):
            self.res.capped += 1
            return
        total_left, today_left = self.ledger.headroom(a.day)
        arm = self.chooser(a, total_left, today_left)
        if arm == NONE:
            self._pass_over(a, cust, u)
            return
        self._censor(a, cust)
        cust.touches.append(a.at)
        self.res.offers += 1
        self._lesson("trial", a.segment, arm)
        face = self.m.face[arm]
        claims = u < self.m.claim_rate(a.day, a.segment, arm)
        if face > min(total_left, today_left):
            # A coupon the budget cannot hold is worth nothing, whether or not this customer claims it: the
            # uplift it is credited with is its claimants', and every one of them would be refused.
            self.res.unfunded_offers += 1
            self.res.refused_claims += claims
            return
        if not claims:
            self._account(a, arm)
            return
        if not self.ledger.reserve(a.day, face):
            raise RuntimeError("a claim within the headroom was refused")
        self._account(a, arm)
        cust.claims += 1
        self.res.claims += 1
        self._lesson("claim", a.segment, arm, a.at, a.at)
        validity = timedelta(days=self.m.validity[arm])
        if u < self.m.rate(a.day, a.segment, arm):
            self._at(a.at + self._delay(validity), "redeem", (a.segment, arm, a.day, a.at))
        else:
            self._at(a.at + validity, "expire", (a.segment, arm, a.day, a.at))

    def _account(self, a: Arrival, arm: str) -> None:
        self.res.incremental_value += self.m.uplift_value(a.day, a.segment, arm)
        self.res.expected_spend += self.m.expected_spend(a.day, a.segment, arm)

    def _hold_out(self, a: Arrival, u: float) -> None:
        self._lesson("trial", a.segment, BASELINE)
        if u < self.m.rate(a.day, a.segment, NONE):
            self._at(
                a.at + self._delay(timedelta(days=BASELINE_WINDOW_DAYS)), "baseline", (a.segment, BASELINE, a.day, a.at)
            )

    def _pass_over(self, a: Arrival, cust: _Customer, u: float) -> None:
        """A visit the policy offered nothing: a no-coupon trial while the campaign never offered this
        customer a coupon (one offered earlier may hold it), its payment reported as production's
        RecordPayment would see it (the holdout's delays and window)."""
        if cust.touches or self.learn is None:
            return
        self._lesson("pass", a.segment, BASELINE)
        token = 0
        if u < self.m.rate(a.day, a.segment, NONE):
            pay_at = a.at + self._delay(timedelta(days=BASELINE_WINDOW_DAYS), self.pass_rng)
            self._at(pay_at, "pass_payment", (a.segment, BASELINE, a.day, a.at))
            token = self.seq
        cust.passed.append((a.at, token))

    def _censor(self, a: Arrival, cust: _Customer) -> None:
        """The customer's first offer ends the windows of their passed-over visits that have not paid yet."""
        for passed_at, token in cust.passed:
            if a.at - passed_at >= timedelta(days=BASELINE_WINDOW_DAYS):
                continue
            if token and token not in self.paid:
                self.cancelled.add(token)
            elif token:
                continue  # paid before the offer: a success already reported
            self._lesson("censor", a.segment, BASELINE, passed_at, a.at)
        cust.passed.clear()

    def _delay(self, validity: timedelta, rng: random.Random | None = None) -> timedelta:
        """Claim → redemption: exponential with the scenario's mean, truncated to the validity."""
        mean = self.sc.redeem_delay_days
        if mean <= 0:
            return timedelta(0)
        span = validity.total_seconds() / 86400
        v = (rng or self.rng).random()
        return timedelta(days=-mean * math.log(1 - v * (1 - math.exp(-span / mean))))

    # --- what happens later ---------------------------------------------------------------------------

    def _at(self, when: datetime, kind: str, what: tuple[str, str, int, datetime]) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, kind, what))

    def _settle(self, until: datetime) -> None:
        while self.events and self.events[0][0] <= until:
            when, seq, kind, (segment, arm, day, claimed_at) = heapq.heappop(self.events)
            if kind == "baseline":
                self._lesson("success", segment, BASELINE)
                continue
            if kind == "pass_payment":
                if seq not in self.cancelled:
                    self.paid.add(seq)
                    self._lesson("pass_payment", segment, BASELINE)
                continue
            face = self.m.face[arm]
            if kind == "expire":
                self.ledger.reserved -= face
                self._lesson("expiry", segment, arm, claimed_at, when)
            elif kind == "redeem":
                self.ledger.reserved -= face
                self.ledger.spent += face
                self.res.redemptions += 1
                self._lesson("success", segment, arm, claimed_at, when)
                if self.rng.random() < self.sc.refund_rate:
                    refund_at = when + timedelta(days=self.sc.refund_delay_days)
                    self._at(refund_at, "refund", (segment, arm, day, claimed_at))
            elif kind == "refund":
                self._refund(when, segment, arm, day, claimed_at)

    def _refund(self, when: datetime, segment: str, arm: str, day: int, claimed_at: datetime) -> None:
        """As RefundOrder: the spend comes back, and a coupon still valid is reserved again until it
        expires (this market's customers do not use a refunded coupon twice)."""
        face = self.m.face[arm]
        redeemed_at = when - timedelta(days=self.sc.refund_delay_days)
        self.ledger.spent -= face
        self._lesson("retract", segment, arm, claimed_at, redeemed_at)
        valid_until = claimed_at + timedelta(days=self.m.validity[arm])
        if when < valid_until:
            self.ledger.reserved += face
            self._at(valid_until, "expire", (segment, arm, day, claimed_at))
        else:
            self._lesson("expiry", segment, arm, claimed_at, when)

    def _lesson(
        self, kind: str, segment: str, arm: str, claimed_at: datetime | None = None, at: datetime | None = None
    ) -> None:
        if self.learn is not None:
            self.lessons.append((kind, segment, arm, claimed_at, at))

    def _teach(self, on_batch: Callable[[], None] | None) -> None:
        if self.learn is not None:
            for kind, segment, arm, claimed_at, at in self.lessons:
                self.learn(kind, segment, arm, claimed_at, at)
            self.lessons.clear()
        if on_batch is not None:
            on_batch()
