"""The allocation policy: which coupon arm (or none) to offer one customer of a segment.

Pure and deterministic given its inputs: randomness comes in as a ``random.Random``, time as a datetime.
The Offer RPC and ``skylane rewards simulate`` run exactly this code.

Model. For a segment s, the chance a customer converts (pays in the scene within the coupon's validity)
without a coupon is p0(s) — learned from the holdout and the visits the policy passed over (Untreated) —
and with arm a it is p(s, a) — learned from redemptions of offered coupons. Both have Beta posteriors. An arm's score is

    (p(s, a) - p0(s)) * V(s)  -  λ * p(s, a) * Y(a)

(expected incremental value minus λ times the expected face value paid out), and "no coupon" scores 0.
Thompson sampling draws one p from every arm's posterior (the baseline enters at its mean), projects the
draws so response never decreases with the discount (pool-adjacent-violators, weighted by posterior
strength), and takes the best score. λ is the budget's shadow price; the pacer moves it so spend follows
the campaign's budget curve. A share ε of decisions picks an arm uniformly at random; every decision
logs its propensity (the probability this policy had of taking the action it took), estimated by
repeating the Thompson draw, so policies can be evaluated offline by inverse propensity weighting.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.rewards.domain import pooling

BASELINE = ""  # the "arm" of no coupon: its cell learns p0 from holdout customers
BASELINE_PRIOR_WEIGHT = 2.0  # pseudo-trials of the pooled no-coupon prior
CLAIM_PRIOR = (4.0, 1.0)  # Beta prior of the share of claims that are redeemed, pooled over the campaign
CLAIM_DELAY_PRIOR = (1.0, 24.0)  # (redemptions, hours of waiting) behind the rate at which redeemers redeem
CLAIM_EM_ROUNDS = 30  # expectation-maximisation rounds of the claim clock's fit
MATURITY_PRIOR = 10.0  # pseudo-conversions, all reported, behind the share of conversions reported so far
CLAIMS_PER_REDEMPTION_PRIOR = 10.0  # pseudo-claims, all redeemed, behind the claims-per-redemption factor
MATURITY_FLOOR = 0.2  # the share is never taken below this, so a burst of fresh claims cannot blow it up
NONE = ""  # a Choice with arm NONE offers nothing
MIN_SEGMENTS_FOR_SPREAD = 8  # segments whose uplift of an arm must be known before its spread τ² is used
CHORD_Z = 2.0  # standard deviations below its neighbours' chord at which an arm's read is lifted to it
MAX_PRIOR_WEIGHT = 2000.0  # pseudo-trials a pooled prior may weigh at most: a cell's own data always count
TAU2_FLOOR = 2.5e-5  # the least spread of segments' uplifts assumed (half a point): pooling is never total


@dataclass(frozen=True)
class ArmSpec:
    id: str
    discount_fen: int


@dataclass
class Counts:
    trials: int = 0  # offers shown (holdout customers seen, for the baseline)
    successes: int = 0  # coupons redeemed and not refunded (holdout customers who paid)
    claims: int = 0  # offers claimed: known at once, where a redemption may come days later
    expired: int = 0  # claimed coupons that expired unredeemed

    def converted(self, redeem_given_claim: float) -> float:
        """Conversions, counting each claim still pending at the chance it still redeems: a pending claim is
        neither a success nor a failure yet (delayed feedback), and counting it as a failure would make
        every arm look worse for as long as redemptions take."""
        successes = min(self.successes, self.trials)
        if self.claims <= 0:
            return float(successes)
        pending = max(0, self.claims - self.successes - self.expired)
        return min(float(self.trials), successes + pending * redeem_given_claim)


@dataclass
class Untreated:
    """Visits of customers the campaign never offered a coupon that the policy passed over (no arm worth
    it, or none the budget could still pay for): trials of the no-coupon response besides the holdout.

    Which visits of a segment the policy passes over depends on its draws and the budget, not on the
    customer, so such a visit is as good a trial of the no-coupon response as a holdout visit; under a
    tight budget there are several times as many. A customer offered a coupon later may pay because of it,
    so the visit's window is censored at that offer: a payment after it does not count, and a visit
    censored at age t before paying counts as the share F(t) of a trial that a no-coupon payment would
    have been reported by then (F from the claim clock's delay; 1 where payments come at once).
    """

    trials: int = 0
    successes: int = 0
    censored: dict[int, int] = field(default_factory=dict)  # whole hours of age at censoring -> visits

    def exposure(self, rate_per_hour: float, window_hours: float) -> float:
        """Trials, each censored visit counted at the share of its window's payments it could have seen."""
        lost = 0.0
        full = 1.0 - math.exp(-rate_per_hour * window_hours)
        for hour, n in self.censored.items():
            age = hour + 0.5
            seen = 1.0 if full <= 0 else min(1.0, (1.0 - math.exp(-rate_per_hour * age)) / full)
            lost += n * (1.0 - seen)
        return max(float(min(self.successes, self.trials)), self.trials - lost)


def _hours(at: datetime) -> float:
    """Hours since the epoch; a time without a zone is UTC (SQLite hands stored times back without one)."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp() / 3600.0


class ClaimClock:
    """When a campaign's claims were made and how long redemptions took, pooled over its arms: the share
    of claims that redeem, estimated with the pending ones censored at their age.

    Redemptions come days before expiries, so the share redeemed among claims already settled reads
    high for as long as the validity lasts. Here a claim redeems with chance p after an exponential delay
    of rate mu; an expired claim did not, a redeemed one did after its delay, and a claim still pending at
    age t redeems later with chance p e^(-mu t) / (1 - p + p e^(-mu t)). p and mu are fitted together by
    expectation-maximisation over pending claims aggregated by the hour they were made (the fit runs when
    the pooled curve is refreshed, never per offer).
    """

    def __init__(self) -> None:
        self.pending: dict[int, int] = {}  # hour the claim was made (since the epoch) -> claims still pending
        self.redeemed = 0
        self.delay_hours = 0.0  # sum over redeemed claims of hours from claim to redemption
        self.expired = 0
        self.latest = 0.0  # latest moment recorded, hours since the epoch: the clock's "now"
        self.rate_per_hour = CLAIM_DELAY_PRIOR[0] / CLAIM_DELAY_PRIOR[1]  # mu of the last fit

    @property
    def timed(self) -> bool:
        return bool(self.pending) or self.redeemed + self.expired > 0

    def _tick(self, at: datetime) -> float:
        hours = _hours(at)
        self.latest = max(self.latest, hours)
        return hours

    def claim(self, at: datetime, n: int = 1) -> None:
        hour = int(self._tick(at))
        self.pending[hour] = self.pending.get(hour, 0) + n

    def _settle(self, claimed_at: datetime, n: int) -> None:
        hour = int(_hours(claimed_at))
        left = self.pending.get(hour, 0) - n
        if left > 0:
            self.pending[hour] = left
        else:
            self.pending.pop(hour, None)

    def redeem(self, claimed_at: datetime, at: datetime, n: int = 1) -> None:
        self._settle(claimed_at, n)
        self.redeemed += n
        self.delay_hours += n * max(0.0, self._tick(at) - _hours(claimed_at))

    def expire(self, claimed_at: datetime, n: int = 1) -> None:
        self._settle(claimed_at, n)
        self.expired += n

    def unredeem(self, claimed_at: datetime, redeemed_at: datetime, n: int = 1) -> None:
        """A redemption refunded: its claim is pending again (the coupon can be used again, or its expiry
        settles it), and its delay no longer says how long redemptions take."""
        hour = int(_hours(claimed_at))
        self.pending[hour] = self.pending.get(hour, 0) + n
        self.redeemed = max(0, self.redeemed - n)
        took = max(0.0, _hours(redeemed_at) - _hours(claimed_at))
        self.delay_hours = max(0.0, self.delay_hours - n * took)

    def add_pending(self, hour: int, n: int, latest: datetime) -> None:
        """Claims still pending, made in `hour` (hours since the epoch), the latest of them at `latest`: a
        rebuild from stored coupons aggregated by claim hour."""
        self._tick(latest)
        self.pending[hour] = self.pending.get(hour, 0) + n

    def add_redeemed(self, n: int, delay_hours: float, latest: datetime) -> None:
        """Redemptions that took `delay_hours` together, the latest at `latest` (a rebuild, aggregated)."""
        self._tick(latest)
        self.redeemed += n
        self.delay_hours += delay_hours

    def add_expired(self, n: int, latest_claim: datetime) -> None:
        """Claims that expired, the latest of them made at `latest_claim` (a rebuild, aggregated)."""
        self._tick(latest_claim)
        self.expired += n

    def pending_rate(self) -> float:
        """The chance a claim still pending redeems, averaged over the pending claims (p itself when none is)."""
        ages = [(max(0.0, self.latest - hour - 0.5), n) for hour, n in self.pending.items()]
        waiting = sum(n for _a, n in ages)
        p = CLAIM_PRIOR[0] / sum(CLAIM_PRIOR)
        mu = CLAIM_DELAY_PRIOR[0] / CLAIM_DELAY_PRIOR[1]
        later = 0.0
        for _ in range(CLAIM_EM_ROUNDS):
            later, exposure = 0.0, 0.0
            for age, n in ages:
                survive = p * math.exp(-mu * age)
                w = survive / (1.0 - p + survive)  # chance this pending claim is a redeemer still to come
                later += w * n
                exposure += w * n * age
            p = (CLAIM_PRIOR[0] + self.redeemed + later) / (sum(CLAIM_PRIOR) + self.redeemed + self.expired + waiting)
            mu = (CLAIM_DELAY_PRIOR[0] + self.redeemed) / (CLAIM_DELAY_PRIOR[1] + self.delay_hours + exposure)
        self.rate_per_hour = mu
        return later / waiting if waiting else p


@dataclass(frozen=True)
class PolicyParams:
    exploration: float = 0.05
    prior_alpha: float = 1.0
    prior_beta: float = 9.0
    monotone: bool = False
    propensity_draws: int = 32
    baseline_prior_alpha: float = 1.0
    baseline_prior_beta: float = 9.0
    pooling: bool = True  # a cell's prior is centred on the pooled curve, with the configured prior's weight
    sampling_scale: float = 1.0  # Thompson draws' spread around the posterior mean (1: the posterior's own)
    passed_over: bool = True  # visits the policy passed over also teach the no-coupon response (Untreated)
    baseline_window_days: float = 7.0  # a no-coupon payment this soon after the visit counts as converted
    # Thompson draws' spread shrinks as (share of the campaign still to come) ** this: 0 keeps it whole.
    horizon_tempering: float = 0.5
    # An arm read implausibly far below the chord between its neighbours (a response curve that grows at a
    # falling rate) is read from that chord, allowing this much (probability) for the curve bending the other
    # way (_chord); 0 turns it off.
    chord_allowance: float = 0.02

    def baseline_window_start(self, now: datetime) -> datetime:
        """The earliest visit whose no-coupon payment at `now` still counts as a conversion."""
        return now - timedelta(days=self.baseline_window_days)


def share_left(start: datetime, end: datetime, now: datetime) -> float:
    """The share of the campaign's time still to come, in [0, 1]."""
    span = (end - start).total_seconds()
    if span <= 0:
        return 0.0
    return min(1.0, max(0.0, (end - now).total_seconds() / span))


def draw_spread(params: PolicyParams, left: float) -> float:
    """How far Thompson draws reach around the posterior mean, as a share of the posterior's own spread.

    What an offer teaches is worth the offers still to come that can use it: late in a campaign a draw
    that tries an arm whose posterior merely overlaps the best buys information almost nothing will
    exploit, and in a large segment whose coupons are all marginal each such try costs its face value.
    So the spread narrows with the share of the campaign left; early on, while a good arm read low after
    a few unlucky offers still has most of the campaign to recover in, it is the posterior's own."""
    return params.sampling_scale * max(0.0, left) ** params.horizon_tempering


class _Pooled:
    """A response curve in the discount shared by every segment: each arm's uplift over the no-coupon
    response, pooled over all segments.

    A cell's prior is centred on its segment's own baseline plus the arm's uplift pooled over the *other*
    segments (leaving its own data out, which its likelihood already counts), weighing prior_alpha +
    prior_beta trials; so a small or new segment starts from what the others have shown, and its own data
    take over as they come. With no other segment's data the centre is the configured priors' difference
    (optimistic enough that a cold campaign tries coupons). Refreshed as evidence grows.

    Where at least MIN_SEGMENTS_FOR_SPREAD segments have shown an arm's uplift over their holdout, how far
    segments' uplifts of that arm spread (τ², domain/pooling.py) is known well enough to use: the arm's
    cells are pooled by empirical Bayes — a prior weighing as many trials as its centre is certain, so
    segments that respond alike share one curve — and the segment's offers of such arms also inform its
    baseline (each one's response less the arm's pooled uplift), so the no-coupon response is learned from
    all of a segment's traffic, not from its holdout (a tenth of it) alone. With fewer segments τ² is
    too uncertain to trust, and a few segments that differ would pull each other's baselines.
    """

    def __init__(self) -> None:
        self.stamp = -1
        self.sums: dict[str, tuple[float, float]] = {}  # arm → (Σ uplift conversions, Σ trials)
        self.own: dict[tuple[str, str], tuple[float, float]] = {}  # each cell's part of those sums
        self.prior = (20.0, 0.0)  # (weight, uplift) of the configured priors
        self.base: dict[str, float] = {}
        self.baseline = 0.0  # every segment's holdout together (the configured prior's mean until then)
        self.redeem_given_claim = CLAIM_PRIOR[0] / sum(CLAIM_PRIOR)  # among claims already resolved
        self.maturity = 1.0  # share of the eventual conversions of decisions made so far already reported
        self.hold: dict[str, pooling.Estimate] = {}  # each segment's holdout response
        self.cells: dict[tuple[str, str], pooling.Estimate] = {}  # each offered cell's own response
        self.arms_of: dict[str, list[str]] = {}  # the arms each segment was offered
        self.spread: dict[str, pooling.RandomEffects] = {}  # arms enough segments have shown
        self.priors: dict[tuple[str, str], tuple[float, float]] = {}  # (segment, arm) → (centre, weight)
        self.passed: dict[str, tuple[float, float]] = {}  # each segment's passed-over (successes, trials)

    def cell_prior(self, segment: str, arm: str) -> tuple[float, float]:
        """The prior (centre, pseudo-trials) of a cell; BASELINE for the segment's no-coupon response."""
        key = (segment, arm)
        found = self.priors.get(key)
        if found is None:
            if arm == BASELINE:
                found = self._baseline_prior(segment)
            elif arm in self.spread:
                found = self._spread_prior(segment, arm)
            else:
                found = (min(0.99, max(0.001, self.mean(segment, arm))), self.prior[0])
            self.priors[key] = found
        return found

    def _implied_baselines(self, segment: str, leave_out: str) -> list[pooling.Estimate]:
        """The segment's baseline as each of its offered arms implies it (response less pooled uplift)."""
        out = []
        for arm in self.arms_of.get(segment, ()):
            effect = self.spread.get(arm)
            if arm == leave_out or effect is None or not effect.informed_without(segment):
                continue
            own, uplift = self.cells[(segment, arm)], effect.mean_without(segment)
            out.append(pooling.Estimate(own.mean - uplift.mean, own.var + effect.tau2 + uplift.var))
        return out

    def _market_baseline(self) -> pooling.Estimate:
        m = min(0.99, max(0.001, self.baseline))
        return pooling.Estimate(m, m * (1 - m) / BASELINE_PRIOR_WEIGHT)

    def _baseline_prior(self, segment: str) -> tuple[float, float]:
        implied = self._implied_baselines(segment, BASELINE)
        if not implied:
            return self.baseline, BASELINE_PRIOR_WEIGHT
        b = pooling.combine([self._market_baseline(), *implied])
        return b.mean, pooling.beta_weight(b.mean, b.var, BASELINE_PRIOR_WEIGHT, MAX_PRIOR_WEIGHT)

    def _spread_prior(self, segment: str, arm: str) -> tuple[float, float]:
        hold = self.hold.get(segment, pooling.NOTHING)
        b = pooling.combine([self._market_baseline(), hold, *self._implied_baselines(segment, arm)])
        effect = self.spread[arm]
        u = effect.mean_without(segment)
        centre = min(0.99, max(0.001, b.mean + u.mean))
        return centre, pooling.beta_weight(centre, effect.tau2 + b.var + u.var, self.prior[0], MAX_PRIOR_WEIGHT)

    def mean(self, segment: str, arm: str) -> float:
        weight, uplift = self.prior
        total, trials = self.sums.get(arm, (0.0, 0.0))
        mine, my_trials = self.own.get((segment, arm), (0.0, 0.0))
        shape = (total - mine + weight * uplift) / (trials - my_trials + weight)
        return self.base.get(segment, self.baseline) + shape

    def refresh(self, post: Posteriors, params: PolicyParams) -> None:
        total = post.total_evidence
        if self.stamp >= 0 and total - self.stamp < max(20, 0.02 * self.stamp):
            return
        self.stamp = total
        self.redeem_given_claim = redeem_given_claim(post)
        self.maturity = reported_share(post, self.redeem_given_claim)
        self._baselines(post, params)
        sums: dict[str, tuple[float, float]] = {}
        self.own = {}
        for (segment, arm), c in post.cells.items():
            if arm != BASELINE:
                part = (c.converted(self.redeem_given_claim) - c.trials * self.base[segment], float(c.trials))
                self.own[(segment, arm)] = part
                acc = sums.get(arm, (0.0, 0.0))
                sums[arm] = (acc[0] + part[0], acc[1] + part[1])
        self.sums = sums
        weight = params.prior_alpha + params.prior_beta
        self.prior = (
            weight,
            params.prior_alpha / weight
            - params.baseline_prior_alpha / (params.baseline_prior_alpha + params.baseline_prior_beta),
        )
        self._spreads(post)

    def _spreads(self, post: Posteriors) -> None:
        """Each segment's holdout and offered cells as estimates, and τ² of the arms enough segments showed."""
        self.cells, self.arms_of, self.priors, self.spread = {}, {}, {}, {}
        if len(self.hold) < MIN_SEGMENTS_FOR_SPREAD:
            return  # no arm can have been shown by enough segments
        raw: dict[str, dict[str, pooling.Estimate]] = {}
        for (segment, arm), c in post.cells.items():
            if arm == BASELINE or c.trials <= 0:
                continue
            own = self.cells[(segment, arm)] = pooling.proportion(c.converted(self.redeem_given_claim), c.trials)
            self.arms_of.setdefault(segment, []).append(arm)
            hold = self.hold.get(segment)
            if hold is not None:
                raw.setdefault(arm, {})[segment] = pooling.Estimate(own.mean - hold.mean, own.var + hold.var)
        weight, uplift = self.prior
        m = min(0.99, max(0.001, uplift + self.baseline))
        configured = pooling.Estimate(uplift, m * (1 - m) / weight)
        self.spread = {
            arm: pooling.random_effects(parts, configured, TAU2_FLOOR)
            for arm, parts in raw.items()
            if len(parts) >= MIN_SEGMENTS_FOR_SPREAD
        }

    def _baselines(self, post: Posteriors, params: PolicyParams) -> None:
        self.passed = {}
        if params.passed_over:
            window = 24.0 * params.baseline_window_days
            for segment, u in post.untreated.items():
                self.passed[segment] = (float(min(u.successes, u.trials)), u.exposure(post.clock.rate_per_hour, window))
        segments = {seg for seg, _arm in post.cells} | set(self.passed)
        counts = {segment: self.untreated(post.cells.get((segment, BASELINE)), segment) for segment in segments}
        self.baseline = (params.baseline_prior_alpha + sum(s for s, _t in counts.values())) / (
            params.baseline_prior_alpha + params.baseline_prior_beta + sum(t for _s, t in counts.values())
        )
        self.base = {
            segment: (BASELINE_PRIOR_WEIGHT * self.baseline + successes) / (BASELINE_PRIOR_WEIGHT + trials)
            for segment, (successes, trials) in counts.items()
        }
        self.hold = {
            segment: pooling.proportion(successes, trials)
            for segment, (successes, trials) in counts.items()
            if trials > 0
        }

    def untreated(self, c: Counts | None, segment: str) -> tuple[float, float]:
        """A segment's no-coupon conversions and trials: its holdout customers (`c`), and the visits the
        policy passed over (as of the last refresh; Untreated).

        A customer counts as a trial when seen and as a success only when they pay, days later, with no
        claim to announce it; counted as reported, the baseline would sit low by the share of payments
        still to come, and every uplift of the segment high by as much (most where responses are slow).
        The conversions are divided by the share of the arms' eventual redemptions already reported,
        whose payments take the same kind of delay.
        """
        successes, trials = (min(c.successes, c.trials), float(c.trials)) if c is not None else (0, 0.0)
        passed_successes, passed_trials = self.passed.get(segment, (0.0, 0.0))
        trials += passed_trials
        return min(trials, (successes + passed_successes) / self.maturity), trials


def redeem_given_claim(post: Posteriors) -> float:
    """The chance a pending claim redeems: from the claim clock when claims come with their times, else the
    share redeemed among the claims already settled (high while expiries are still to come)."""
    if post.clock.timed:
        return post.clock.pending_rate()
    resolved = [(c.successes, c.expired) for (_seg, arm), c in post.cells.items() if arm != BASELINE and c.claims]
    return (CLAIM_PRIOR[0] + sum(r for r, _e in resolved)) / (sum(CLAIM_PRIOR) + sum(r + e for r, e in resolved))


def reported_share(post: Posteriors, redeem_given_claim: float) -> float:
    """Share of the offered arms' eventual redemptions already reported: redemptions so far over
    redemptions plus the pending claims at the chance they still redeem (1 when nothing is pending)."""
    reported = expected = MATURITY_PRIOR
    for (_seg, arm), c in post.cells.items():
        if arm != BASELINE and c.claims:
            reported += min(c.successes, c.trials)
            expected += c.converted(redeem_given_claim)
    return max(MATURITY_FLOOR, min(1.0, reported / expected))


def claims_per_redemption(post: Posteriors) -> float:
    """Coupons claimed per coupon that will be redeemed, over the campaign's claims so far: what converts
    the forecast's expected redemptions into the claimed face value a daily budget counts. 1 while every
    claimant redeems (or nothing is claimed yet: the prior counts CLAIMS_PER_REDEMPTION_PRIOR claims, all
    redeemed); pending claims count at the chance they still redeem."""
    pending_rate = redeem_given_claim(post)
    claims = eventual = CLAIMS_PER_REDEMPTION_PRIOR
    for (_seg, arm), c in post.cells.items():
        if arm != BASELINE and c.claims:
            claims += c.claims
            eventual += c.converted(pending_rate)
    return max(1.0, claims / eventual)


class Posteriors:
    """Beta posteriors per (segment, arm) of one campaign; arm BASELINE is the no-coupon response."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str], Counts] = {}
        self.evidence: dict[str, int] = {}  # per segment: trials + successes recorded (a change stamp)
        self.total_evidence = 0  # the same over all segments: when the pooled curve is due a refresh
        self.pooled = _Pooled()
        self.clock = ClaimClock()  # when the arms' claims were made and redeemed
        self.untreated: dict[str, Untreated] = {}  # per segment: visits passed over (Untreated)

    def cell(self, segment: str, arm: str) -> Counts:
        key = (segment, arm)
        found = self.cells.get(key)
        if found is None:
            found = self.cells[key] = Counts()
        return found

    def _stamp(self, segment: str, n: int) -> None:
        self.evidence[segment] = self.evidence.get(segment, 0) + n
        self.total_evidence += n

    def record_trial(self, segment: str, arm: str, n: int = 1) -> None:
        self.cell(segment, arm).trials += n
        self._stamp(segment, n)

    def record_success(
        self, segment: str, arm: str, n: int = 1, claimed_at: datetime | None = None, at: datetime | None = None
    ) -> None:
        """A redemption (a holdout payment for BASELINE); with the claim's and the redemption's times the
        claim clock learns the delay."""
        self.cell(segment, arm).successes += n
        self._stamp(segment, n)
        if arm != BASELINE and claimed_at is not None and at is not None:
            self.clock.redeem(claimed_at, at, n)

    def record_claim(self, segment: str, arm: str, n: int = 1, at: datetime | None = None) -> None:
        self.cell(segment, arm).claims += n
        self._stamp(segment, n)
        if at is not None:
            self.clock.claim(at, n)

    def record_expiry(self, segment: str, arm: str, n: int = 1, claimed_at: datetime | None = None) -> None:
        self.cell(segment, arm).expired += n
        self._stamp(segment, n)
        if claimed_at is not None:
            self.clock.expire(claimed_at, n)

    def _untreated(self, segment: str) -> Untreated:
        found = self.untreated.get(segment)
        if found is None:
            found = self.untreated[segment] = Untreated()
        return found

    def record_pass(self, segment: str, n: int = 1) -> None:
        """A visit of a customer the campaign never offered a coupon, passed over by the policy."""
        self._untreated(segment).trials += n
        self._stamp(segment, n)

    def record_pass_payment(self, segment: str, n: int = 1) -> None:
        """A passed-over customer paid within the window, before any offer of the campaign."""
        self._untreated(segment).successes += n
        self._stamp(segment, n)

    def record_censor(self, segment: str, passed_at: datetime, at: datetime, n: int = 1) -> None:
        """A passed-over customer was offered a coupon at `at`, `passed_at` their visit, before paying and
        within the window: the visit no longer tells the no-coupon response after `at`."""
        self.add_censored(segment, int(max(0.0, _hours(at) - _hours(passed_at))), n)

    def add_censored(self, segment: str, age_hours: int, n: int = 1) -> None:
        """Passed-over visits censored at `age_hours` whole hours after the visit (a rebuild, aggregated)."""
        u = self._untreated(segment)
        u.censored[age_hours] = u.censored.get(age_hours, 0) + n
        self._stamp(segment, n)

    def retract_success(
        self, segment: str, arm: str, claimed_at: datetime | None = None, redeemed_at: datetime | None = None
    ) -> None:
        """A refunded redemption was not a conversion after all: its claim is pending again (a coupon past
        its validity is then recorded as expired, as the refund stores it)."""
        cell = self.cell(segment, arm)
        cell.successes = max(0, cell.successes - 1)
        self._stamp(segment, 1)  # a change stamp: it only grows
        if arm != BASELINE and claimed_at is not None and redeemed_at is not None:
            self.clock.unredeem(claimed_at, redeemed_at)

    def record(
        self,
        kind: str,
        segment: str,
        arm: str,
        n: int = 1,
        claimed_at: datetime | None = None,
        at: datetime | None = None,
    ) -> None:
        """One lesson by name (trial, claim, success, expiry, retract; pass, pass_payment, censor), as a
        replicas' journal replays it and the simulator teaches it: `claimed_at` when the claim was made (the
        passed-over visit, for censor), `at` when the lesson happened."""
        if kind == "trial":
            self.record_trial(segment, arm, n)
        elif kind == "claim":
            self.record_claim(segment, arm, n, at)
        elif kind == "success":
            self.record_success(segment, arm, n, claimed_at, at)
        elif kind == "expiry":
            self.record_expiry(segment, arm, n, claimed_at)
        elif kind == "retract":
            for _ in range(n):
                self.retract_success(segment, arm, claimed_at, at)
        else:
            self._record_untreated(kind, segment, n, claimed_at, at)

    def _record_untreated(
        self, kind: str, segment: str, n: int, passed_at: datetime | None, at: datetime | None
    ) -> None:
        """The passed-over lessons (pass, pass_payment, censor: `claimed_at` the visit, `at` the offer)."""
        if kind == "pass":
            self.record_pass(segment, n)
        elif kind == "pass_payment":
            self.record_pass_payment(segment, n)
        elif kind == "censor" and passed_at is not None and at is not None:
            self.record_censor(segment, passed_at, at, n)
        else:
            raise ValueError(f"unknown lesson {kind!r}")

    def betas(self, segment: str, arms: Sequence[ArmSpec], params: PolicyParams) -> list[tuple[float, float]]:
        """The posteriors of BASELINE and of `arms` (sorted by discount). Two shapes of the response curve move
        an arm's prior, never its data: a bigger coupon is expected to do at least as well as a smaller one (the
        prior centred no lower than the best posterior mean among the segment's cheaper arms, weighing no more
        than the configured prior: a rule of thumb), and a curve that grows at a falling rate lies on or above
        the chord between two arms (an arm read implausibly far below its neighbours' chord is read from the
        chord, weighing what the chord knows: `_chord`). Docs: rewards-decisions.md, The policy."""
        keys = [BASELINE, *(a.id for a in arms)]
        if not params.pooling or len(keys) < 3:
            return [self.beta(segment, k, params) for k in keys]
        out = [self.beta(segment, BASELINE, params)]
        terms = [self._pooled_terms(segment, a.id, params) for a in arms]
        own = [_read(*t) for t in terms]
        floor: float | None = None  # best posterior mean so far, each arm read on its own prior
        for i, (centre, k, successes, trials) in enumerate(terms):
            lifted = centre if floor is None else max(centre, min(0.99, floor))
            if lifted > centre:
                k = min(k, self.pooled.prior[0])
            # an arm many segments have shown is read through their responses already (empirical Bayes)
            pooled = arms[i].id in self.pooled.spread
            chord = None if pooled else _chord(arms, own, terms, i, params.chord_allowance)
            if chord is not None and _read(*chord, successes, trials) > _read(lifted, k, successes, trials):
                lifted, k = chord
            out.append((k * lifted + successes, k * (1 - lifted) + trials - successes))
            floor = own[i] if floor is None else max(floor, own[i])
        return out

    def _pooled_terms(self, segment: str, arm: str, params: PolicyParams) -> tuple[float, float, float, int]:
        """An arm's pooled prior centre and weight, its conversions and its trials (pooling on)."""
        self.pooled.refresh(self, params)
        c = self.cells.get((segment, arm)) or Counts()
        centre, k = self.pooled.cell_prior(segment, arm)
        return centre, k, c.converted(self.pooled.redeem_given_claim), c.trials

    def beta(self, segment: str, arm: str, params: PolicyParams, pooled: bool = True) -> tuple[float, float]:
        if arm != BASELINE and pooled and params.pooling:
            centre, k, successes, trials = self._pooled_terms(segment, arm, params)
            return k * centre + successes, k * (1 - centre) + trials - successes
        c = self.cells.get((segment, arm)) or Counts()
        trials = c.trials
        if pooled and params.pooling:
            self.pooled.refresh(self, params)
        successes = c.converted(self.pooled.redeem_given_claim)
        if arm == BASELINE:
            if pooled and params.pooling:
                successes, weight = self.pooled.untreated(c, segment)
                # Centred on every segment's holdout together, and weak: a biased baseline biases every
                # uplift by the same amount, so a segment's own holdout must take over quickly (unless the
                # segment's offers of arms many segments have shown say more of it: _Pooled).
                m, k = self.pooled.cell_prior(segment, BASELINE)
                return k * m + successes, k * (1 - m) + weight - successes
            return params.baseline_prior_alpha + successes, params.baseline_prior_beta + trials - successes
        return params.prior_alpha + successes, params.prior_beta + trials - successes


def _read(centre: float, weight: float, successes: float, trials: float) -> float:
    """A cell's posterior mean under a prior of `weight` pseudo-trials centred on `centre`."""
    return (weight * centre + successes) / (weight + trials)


def _chord(
    arms: Sequence[ArmSpec],
    own: Sequence[float],
    terms: Sequence[tuple[float, float, float, int]],
    i: int,
    allowance: float,
) -> tuple[float, float] | None:
    """The chord between arm i's neighbours' posterior means at arm i's discount, as a prior (centre,
    pseudo-trials: the chord's variance from the neighbours' posteriors plus `allowance`² for a curve that
    bends the other way), where arm i's read lies more than CHORD_Z deviations of the two below it; None
    otherwise, for the cheapest and the dearest arm, and with no allowance."""
    if allowance <= 0.0 or i == 0 or i + 1 >= len(arms):
        return None
    lo, hi = arms[i - 1].discount_fen, arms[i + 1].discount_fen
    if hi <= lo:
        return None
    t = (arms[i].discount_fen - lo) / (hi - lo)
    m = min(0.99, max(0.001, own[i - 1] + t * (own[i + 1] - own[i - 1])))

    def variance(j: int) -> float:
        return own[j] * (1.0 - own[j]) / (terms[j][1] + terms[j][3] + 1.0)

    var = (1.0 - t) ** 2 * variance(i - 1) + t**2 * variance(i + 1) + allowance**2
    if m - own[i] <= CHORD_Z * math.sqrt(var + variance(i)):
        return None  # within what noise and a curve bending the other way explain: the arm's own read stands
    return m, min(MAX_PRIOR_WEIGHT, m * (1.0 - m) / var)


def isotonic(values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """Pool-adjacent-violators: the non-decreasing sequence closest to values in weighted least squares."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for v, w in zip(values, weights, strict=True):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            m2, w2, n2 = blocks.pop()
            m1, w1, n1 = blocks.pop()
            total = w1 + w2
            blocks.append([(m1 * w1 + m2 * w2) / total, total, n1 + n2])
    out: list[float] = []
    for mean, _w, n in blocks:
        out.extend([mean] * int(n))
    return out


@dataclass(frozen=True)
class ArmEstimate:
    arm: str
    response: float  # projected expected conversion probability with this arm
    incremental_value: float  # (p - p0) * V, fen per offer
    expected_cost: float  # p * Y, fen per offer
    score: float  # incremental_value - λ * expected_cost


@dataclass(frozen=True)
class Choice:
    arm: str  # NONE: offer nothing
    propensity: float
    explored: bool
    reason: str  # THOMPSON | EXPLORATION | NO_PROFITABLE_ARM | BUDGET_EXHAUSTED
    baseline: float  # posterior-mean p0
    estimates: tuple[ArmEstimate, ...] = field(default_factory=tuple)


def _responses(draws: list[float], weights: list[float], monotone: bool) -> list[float]:
    return isotonic(draws, weights) if monotone else draws


def _scores(p: list[float], arms: Sequence[ArmSpec], value_fen: float, lam: float) -> list[float]:
    p0 = p[0]
    return [(p[i + 1] - p0) * value_fen - lam * p[i + 1] * a.discount_fen for i, a in enumerate(arms)]


def _best(scores: list[float]) -> int:
    """Index of the best arm, or -1 for "no coupon" when nothing beats zero."""
    best, best_score = -1, 0.0
    for i, s in enumerate(scores):
        if s > best_score:
            best, best_score = i, s
    return best


def choose(
    posteriors: Posteriors,
    segment: str,
    arms: Sequence[ArmSpec],
    value_fen: float,
    lam: float,
    rng: random.Random,
    params: PolicyParams,
    budget_left_fen: int | None = None,
    propensities: PropensityCache | None = None,
    left: float = 1.0,
) -> Choice:
    """Picks an arm for one customer of ``segment``; arms must be sorted by discount ascending; ``left`` is
    the share of the campaign still to come (``share_left``), which narrows the draws (``draw_spread``).

    With a ``PropensityCache`` the Thompson action shares behind the logged propensity are re-estimated
    only when the segment's evidence or λ moved, instead of on every call (the hot path of Offer).
    """
    affordable = [a for a in arms if budget_left_fen is None or a.discount_fen <= budget_left_fen]
    betas = posteriors.betas(segment, affordable, params)
    weights = [a + b for a, b in betas]
    means = _responses([a / (a + b) for a, b in betas], weights, params.monotone)
    base_mean = means[0]
    mean_scores = _scores(means, affordable, value_fen, lam)
    estimates = tuple(
        ArmEstimate(
            a.id,
            means[i + 1],
            (means[i + 1] - base_mean) * value_fen,
            means[i + 1] * a.discount_fen,
            mean_scores[i],
        )
        for i, a in enumerate(affordable)
    )
    if not affordable:
        return Choice(NONE, 1.0, False, "BUDGET_EXHAUSTED", base_mean, estimates)

    raw = [a / (a + b) for a, b in betas]
    base_raw = raw[0]
    spread = draw_spread(params, left)

    def thompson() -> int:
        # The baseline enters at its posterior mean: holdout data arrives whatever we choose, so sampling
        # it would only add noise to every uplift without buying information.
        draws = [base_raw, *_drawn(betas[1:], raw[1:], spread, rng)]
        return _best(_scores(_responses(draws, weights, params.monotone), affordable, value_fen, lam))

    # Exploration is weighted by the inverse of the face value: a cheap arm is tried more often than a
    # dear one, so exploring never spends like the most expensive coupon would.
    inverse = [1.0 / a.discount_fen for a in affordable]
    explore_share = [w / sum(inverse) for w in inverse]
    eps = params.exploration
    if rng.random() < eps:
        picked, explored = rng.choices(range(len(affordable)), weights=inverse)[0], True
    else:
        picked, explored = thompson(), False
    # Propensity: ε times the arm's exploration share plus (1-ε) times the Thompson probability, the
    # latter estimated by re-drawing.
    draws = params.propensity_draws
    counts = None
    stamp = posteriors.evidence.get(segment, 0)
    arm_ids = tuple(a.id for a in affordable)
    if propensities is not None:
        counts = propensities.lookup(segment, stamp, (lam, spread), arm_ids)
    if counts is None:
        counts = {}
        for _ in range(draws):
            action = thompson()
            counts[action] = counts.get(action, 0) + 1
        if propensities is not None:
            propensities.store(segment, stamp, (lam, spread), arm_ids, counts)
    ts_share = (counts.get(picked, 0) + 1) / (draws + 2)  # never exactly 0 or 1 (IPS weights stay finite)
    propensity = (1 - eps) * ts_share + (eps * explore_share[picked] if picked >= 0 else 0.0)
    if picked < 0:
        return Choice(NONE, propensity, False, "NO_PROFITABLE_ARM", base_mean, estimates)
    return Choice(
        affordable[picked].id,
        propensity,
        explored,
        "EXPLORATION" if explored else "THOMPSON",
        base_mean,
        estimates,
    )


@dataclass
class _Shares:
    stamp: int
    lam: tuple[float, float]  # λ and the draws' spread the counts were drawn at
    arms: tuple[str, ...]
    counts: dict[int, int]


class PropensityCache:
    """Thompson action counts per segment, reused while the posteriors behind them barely moved.

    An estimate is reused until λ or the draws' spread changes, the affordable arms change, or the segment has recorded
    ``max(refresh_min, refresh_share × evidence)`` more trials and successes than when it was drawn.
    Posteriors move by about 1/evidence per observation, so the reused shares stay within the Monte
    Carlo error of a fresh estimate, at a fraction of the draws.
    """

    def __init__(self, refresh_min: int = 20, refresh_share: float = 0.05) -> None:
        self.refresh_min, self.refresh_share = refresh_min, refresh_share
        self._by_segment: dict[str, _Shares] = {}

    def lookup(
        self, segment: str, stamp: int, lam: tuple[float, float], arms: tuple[str, ...]
    ) -> dict[int, int] | None:
        found = self._by_segment.get(segment)
        if found is None or found.lam != lam or found.arms != arms:
            return None
        if stamp - found.stamp >= max(self.refresh_min, self.refresh_share * found.stamp):
            return None
        return found.counts

    def store(
        self, segment: str, stamp: int, lam: tuple[float, float], arms: tuple[str, ...], counts: dict[int, int]
    ) -> None:
        self._by_segment[segment] = _Shares(stamp, lam, arms, counts)


PACING_DRAWS = 16  # Thompson draws per segment behind the pacer's spend forecast
# The arrival rate is trusted once this many arrivals are seen, or after this long whatever came: where the
# contact caps let few customers through, λ must still leave its starting value (an ample budget is otherwise
# held at λ_initial, and coupons worth less than their face value in uplift are never offered).
RATE_MIN_ARRIVALS = 20
RATE_MIN_SECONDS = 86_400.0


@dataclass(frozen=True)
class _Outlook:
    """One segment as the pacer sees it: its share of arrivals, the value of a conversion, the projected
    posterior-mean response of no coupon and of every arm, and a few Thompson draws of those responses."""

    share: float
    value: float
    means: list[float]
    draws: list[list[float]]


def _outlooks(
    posteriors: Posteriors,
    arms: Sequence[ArmSpec],
    segments: Sequence[tuple[str, float, float]],
    params: PolicyParams,
    rng: random.Random,
    spread: float = 1.0,
) -> list[_Outlook]:
    out = []
    for seg, share, value in segments:
        betas = posteriors.betas(seg, arms, params)
        weights = [a + b for a, b in betas]
        raw = [a / (a + b) for a, b in betas]
        means = _responses(raw, weights, params.monotone)
        draws = [
            _responses([raw[0], *_drawn(betas[1:], raw[1:], spread, rng)], weights, params.monotone)
            for _ in range(PACING_DRAWS)
        ]
        out.append(_Outlook(share, value, means, draws))
    return out


def _drawn(
    betas: Sequence[tuple[float, float]], means: Sequence[float], spread: float, rng: random.Random
) -> list[float]:
    """One Thompson draw per arm, ``spread`` times as far from its posterior mean as the posterior's own."""
    if spread == 1.0:
        return [rng.betavariate(a, b) for a, b in betas]
    return [m + spread * (rng.betavariate(a, b) - m) for (a, b), m in zip(betas, means, strict=True)]


def expected_cost_per_arrival(
    outlooks: Sequence[_Outlook], arms: Sequence[ArmSpec], lam: float, params: PolicyParams
) -> float:
    """Expected face value paid out per arriving customer by the sampling policy at this λ.

    Thompson sampling takes any arm that might be best, so while the posteriors are wide it spends far
    more (or less) than "the best arm at the posterior means" would; the forecast replays the policy's
    own draws (the same draws at every λ, so the forecast falls as λ rises) and costs each choice at the
    posterior mean.
    """
    inverse = sum(1.0 / a.discount_fen for a in arms)
    total = 0.0
    for o in outlooks:
        sampled = 0.0
        for draw in o.draws:
            best = _best(_scores(draw, arms, o.value, lam))
            sampled += o.means[best + 1] * arms[best].discount_fen if best >= 0 else 0.0
        # Exploration spends too: a share ε of customers get an arm drawn by inverse face value.
        explore = sum(o.means[i + 1] / inverse for i in range(len(arms))) if arms else 0.0
        total += o.share * ((1 - params.exploration) * sampled / len(o.draws) + params.exploration * explore)
    return total


def solve_lambda(
    posteriors: Posteriors,
    arms: Sequence[ArmSpec],
    segments: Sequence[tuple[str, float, float]],
    target_cost_per_arrival: float,
    lam_min: float,
    lam_max: float,
    params: PolicyParams,
    rng: random.Random,
    spread: float = 1.0,
) -> float:
    """Smallest λ whose expected spend per arrival fits the target (bisection on log λ); ``spread`` is the
    policy's draws' (``draw_spread``), so the forecast replays the draws the offers will make.

    This is the dual of the knapsack: at the right λ, "best arm per segment" spends the budget.
    """
    outlooks = _outlooks(posteriors, arms, segments, params, rng, spread)  # fixed during the search
    if expected_cost_per_arrival(outlooks, arms, lam_min, params) <= target_cost_per_arrival:
        return lam_min
    lo, hi = math.log(lam_min), math.log(lam_max)
    for _ in range(30):
        mid = (lo + hi) / 2
        if expected_cost_per_arrival(outlooks, arms, math.exp(mid), params) > target_cost_per_arrival:
            lo = mid
        else:
            hi = mid
    return math.exp(hi)


@dataclass
class Pacer:
    """Keeps λ, the budget's shadow price, so committed spend follows the budget curve.

    Every ``interval_seconds`` it re-solves λ so that the expected spend of the *next* arrivals, under
    the current posteriors, spreads what is left of the budget evenly over the time that is left (the
    linear budget curve; the daily cap bounds today's share). Overspending so far leaves less per
    arrival, which raises λ; underspending lowers it.

    The arrival rate and the segment mix are those of the last ``rate_window_seconds`` (a week: whole
    weeks average out weekday peaks). Arrivals the pacer sees are customers the contact caps still let
    through; as returning customers use up their caps, fewer get through than in the first days, and a
    rate measured since the start would promise arrivals that never come and hold λ too high.
    """

    lam: float
    lam_min: float
    lam_max: float
    interval_seconds: float
    arrivals: dict[str, int] = field(default_factory=dict)  # per segment, within the rate window
    first_seen: datetime | None = None
    last_update: datetime | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))  # the forecast's draws
    rate_window_seconds: float = 7 * 86_400.0
    # Arrivals per hour and segment, oldest first, so those older than the window can be taken out.
    hours: deque[tuple[int, dict[str, int]]] = field(default_factory=deque)
    # Share of the campaign still to come at the last update: the offers draw at the spread the forecast
    # assumed (draw_spread), and it moves only when λ does, so cached propensities stay valid between.
    left: float = 1.0

    def arrive(self, now: datetime, segment: str) -> None:
        if self.first_seen is None:
            self.first_seen = now
        self.arrivals[segment] = self.arrivals.get(segment, 0) + 1
        hour = int(now.timestamp() // 3600)
        if not self.hours or self.hours[-1][0] != hour:
            self.hours.append((hour, {}))
        bucket = self.hours[-1][1]
        bucket[segment] = bucket.get(segment, 0) + 1

    def traffic(self, now: datetime) -> tuple[int, float]:
        """Arrivals within the rate window and the seconds they were counted over (older hours dropped)."""
        seconds = self._forget_before(now)
        return sum(self.arrivals.values()), seconds

    def _forget_before(self, now: datetime) -> float:
        """Drops the hours that left the window; returns the seconds the window covers."""
        start = now.timestamp() - self.rate_window_seconds
        while self.hours and (self.hours[0][0] + 1) * 3600 <= start:
            _hour, bucket = self.hours.popleft()
            for segment, n in bucket.items():
                self.arrivals[segment] -= n
        first = self.first_seen.timestamp() if self.first_seen else now.timestamp()
        # The counts cover every arrival since the oldest hour kept (or the first arrival, if later).
        window_start = max(first, self.hours[0][0] * 3600) if self.hours else first
        return now.timestamp() - window_start

    def due(self, now: datetime) -> bool:
        return self.last_update is None or (now - self.last_update).total_seconds() >= self.interval_seconds

    def update(
        self,
        now: datetime,
        posteriors: Posteriors,
        arms: Sequence[ArmSpec],
        values: dict[str, float],
        budget_left_fen: float,
        seconds_left: float,
        today_left_fen: float,
        seconds_left_today: float,
        params: PolicyParams,
        left: float = 1.0,
    ) -> float:
        """Re-solves λ; ``left`` is the share of the campaign still to come (``share_left``)."""
        self.last_update = now
        self.left = left
        n, elapsed = self.traffic(now)
        if elapsed <= 0 or (n < RATE_MIN_ARRIVALS and elapsed < RATE_MIN_SECONDS):
            return self.lam  # too little traffic seen, for too short a time, to know the arrival rate
        rate = n / elapsed
        # The forecast is in redeemed face value; the day's budget counts claimed face value, of which a
        # claim that is never redeemed takes as much: today's share is scaled down by the claims per redemption.
        per_arrival = min(
            budget_left_fen / max(rate * seconds_left, 1.0),
            today_left_fen / max(claims_per_redemption(posteriors) * rate * seconds_left_today, 1.0),
        )
        segments = [(s, c / n, values[s]) for s, c in self.arrivals.items() if s in values]
        ceiling = max(self.lam_max, no_offer_price(values, arms))
        spread = draw_spread(params, left)
        self.lam = solve_lambda(
            posteriors, arms, segments, per_arrival, self.lam_min, ceiling, params, self.rng, spread
        )
        return self.lam


def no_offer_price(values: dict[str, float], arms: Sequence[ArmSpec]) -> float:
    """A λ at which no arm scores above "no coupon" in any segment: (p − p0)·V − λ·p·Y < p·(V − λ·Y) ≤ 0
    once λ ≥ V / Y. The pacer's search reaches at least this far, whatever `lambda_max` says: where a
    conversion is worth a thousand times a coupon, a ceiling set for ordinary campaigns would leave λ pinned
    below the price that fits the budget and the budget spent on the dearest coupons."""
    faces = [a.discount_fen for a in arms if a.discount_fen > 0]
    if not faces or not values:
        return 0.0
    return max(values.values()) / min(faces)
