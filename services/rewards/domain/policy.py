"""The allocation policy: which coupon arm (or none) to offer one customer of a segment.

Pure and deterministic given its inputs: randomness comes in as a ``random.Random``, time as a datetime.
The Offer RPC and ``skylane rewards simulate`` run exactly this code.

Model. For a segment s, the chance a customer converts (pays in the scene within the coupon's validity)
without a coupon is p0(s) — learned from the holdout — and with arm a it is p(s, a) — learned from
redemptions of offered coupons. Both have Beta posteriors. An arm's score is

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

BASELINE = ""  # the "arm" of no coupon: its cell learns p0 from holdout customers
NONE = ""  # a Choice with arm NONE offers nothing


@dataclass(frozen=True)
class ArmSpec:
    id: str
    discount_fen: int


@dataclass
class Counts:
    trials: int = 0
    successes: int = 0


@dataclass(frozen=True)
class PolicyParams:
    exploration: float = 0.05
    prior_alpha: float = 1.0
    prior_beta: float = 9.0
    monotone: bool = True
    propensity_draws: int = 32
    baseline_prior_alpha: float = 1.0
    baseline_prior_beta: float = 9.0


class Posteriors:
    """Beta posteriors per (segment, arm) of one campaign; arm BASELINE is the no-coupon response."""

    def __init__(self) -> None:
        self.cells: dict[tuple[str, str], Counts] = {}
        self.evidence: dict[str, int] = {}  # per segment: trials + successes recorded (a change stamp)

    def cell(self, segment: str, arm: str) -> Counts:
        key = (segment, arm)
        found = self.cells.get(key)
        if found is None:
            found = self.cells[key] = Counts()
        return found

    def record_trial(self, segment: str, arm: str, n: int = 1) -> None:
        self.cell(segment, arm).trials += n
        self.evidence[segment] = self.evidence.get(segment, 0) + n

    def record_success(self, segment: str, arm: str, n: int = 1) -> None:
        self.cell(segment, arm).successes += n
        self.evidence[segment] = self.evidence.get(segment, 0) + n

    def retract_success(self, segment: str, arm: str) -> None:
        """A refunded redemption was not a conversion after all."""
        cell = self.cell(segment, arm)
        cell.successes = max(0, cell.successes - 1)
        self.evidence[segment] = self.evidence.get(segment, 0) + 1  # a change stamp: it only grows

    def beta(self, segment: str, arm: str, params: PolicyParams) -> tuple[float, float]:
        c = self.cells.get((segment, arm))
        trials, successes = (c.trials, c.successes) if c else (0, 0)
        # Outcomes arrive after the trial (delayed feedback); never let successes exceed trials.
        successes = min(successes, trials)
        if arm == BASELINE:
            return params.baseline_prior_alpha + successes, params.baseline_prior_beta + trials - successes
        return params.prior_alpha + successes, params.prior_beta + trials - successes


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
) -> Choice:
    """Picks an arm for one customer of ``segment``; arms must be sorted by discount ascending.

    With a ``PropensityCache`` the Thompson action shares behind the logged propensity are re-estimated
    only when the segment's evidence or λ moved, instead of on every call (the hot path of Offer).
    """
    affordable = [a for a in arms if budget_left_fen is None or a.discount_fen <= budget_left_fen]
    keys = [BASELINE, *(a.id for a in affordable)]
    betas = [posteriors.beta(segment, k, params) for k in keys]
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

    base_raw = betas[0][0] / (betas[0][0] + betas[0][1])

    def thompson() -> int:
        # The baseline enters at its posterior mean: holdout data arrives whatever we choose, so sampling
        # it would only add noise to every uplift without buying information.
        draws = [base_raw, *(rng.betavariate(a, b) for a, b in betas[1:])]
        return _best(_scores(_responses(draws, weights, params.monotone), affordable, value_fen, lam))

    k = len(affordable)
    eps = params.exploration
    if rng.random() < eps:
        picked, explored = rng.randrange(k), True
    else:
        picked, explored = thompson(), False
    # Propensity: ε/k for any arm plus (1-ε) times the Thompson probability, estimated by re-drawing.
    draws = params.propensity_draws
    counts = None
    stamp = posteriors.evidence.get(segment, 0)
    arm_ids = tuple(keys[1:])
    if propensities is not None:
        counts = propensities.lookup(segment, stamp, lam, arm_ids)
    if counts is None:
        counts = {}
        for _ in range(draws):
            action = thompson()
            counts[action] = counts.get(action, 0) + 1
        if propensities is not None:
            propensities.store(segment, stamp, lam, arm_ids, counts)
    ts_share = (counts.get(picked, 0) + 1) / (draws + 2)  # never exactly 0 or 1 (IPS weights stay finite)
    propensity = (1 - eps) * ts_share + (eps / k if picked >= 0 else 0.0)
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
    lam: float
    arms: tuple[str, ...]
    counts: dict[int, int]


class PropensityCache:
    """Thompson action counts per segment, reused while the posteriors behind them barely moved.

    An estimate is reused until λ changes, the affordable arms change, or the segment has recorded
    ``max(refresh_min, refresh_share × evidence)`` more trials and successes than when it was drawn.
    Posteriors move by about 1/evidence per observation, so the reused shares stay within the Monte
    Carlo error of a fresh estimate, at a fraction of the draws.
    """

    def __init__(self, refresh_min: int = 20, refresh_share: float = 0.05) -> None:
        self.refresh_min, self.refresh_share = refresh_min, refresh_share
        self._by_segment: dict[str, _Shares] = {}

    def lookup(self, segment: str, stamp: int, lam: float, arms: tuple[str, ...]) -> dict[int, int] | None:
        found = self._by_segment.get(segment)
        if found is None or found.lam != lam or found.arms != arms:
            return None
        if stamp - found.stamp >= max(self.refresh_min, self.refresh_share * found.stamp):
            return None
        return found.counts

    def store(self, segment: str, stamp: int, lam: float, arms: tuple[str, ...], counts: dict[int, int]) -> None:
        self._by_segment[segment] = _Shares(stamp, lam, arms, counts)


def expected_cost_per_arrival(
    posteriors: Posteriors,
    arms: Sequence[ArmSpec],
    segments: Sequence[tuple[str, float, float]],
    lam: float,
    params: PolicyParams,
) -> float:
    """Expected face value paid out per arriving customer if every segment got its best arm at this λ.

    segments: (segment id, share of arrivals, value of a conversion).
    """
    total = 0.0
    for seg, share, value in segments:
        keys = [BASELINE, *(a.id for a in arms)]
        betas = [posteriors.beta(seg, k, params) for k in keys]
        means = _responses([a / (a + b) for a, b in betas], [a + b for a, b in betas], params.monotone)
        best = _best(_scores(means, arms, value, lam))
        greedy = means[best + 1] * arms[best].discount_fen if best >= 0 else 0.0
        # Exploration spends too: a share ε of customers get a uniformly random arm.
        explore = sum(means[i + 1] * a.discount_fen for i, a in enumerate(arms)) / len(arms) if arms else 0.0
        total += share * ((1 - params.exploration) * greedy + params.exploration * explore)
    return total


def solve_lambda(
    posteriors: Posteriors,
    arms: Sequence[ArmSpec],
    segments: Sequence[tuple[str, float, float]],
    target_cost_per_arrival: float,
    lam_min: float,
    lam_max: float,
    params: PolicyParams,
) -> float:
    """Smallest λ whose expected spend per arrival fits the target (bisection on log λ).

    This is the dual of the knapsack: at the right λ, "best arm per segment" spends the budget.
    """
    if expected_cost_per_arrival(posteriors, arms, segments, lam_min, params) <= target_cost_per_arrival:
        return lam_min
    lo, hi = math.log(lam_min), math.log(lam_max)
    for _ in range(30):
        mid = (lo + hi) / 2
        if expected_cost_per_arrival(posteriors, arms, segments, math.exp(mid), params) > target_cost_per_arrival:
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
    arrival, which raises λ; underspending lowers it. The arrival rate is measured as it goes.
    """

    lam: float
    lam_min: float
    lam_max: float
    interval_seconds: float
    arrivals: dict[str, int] = field(default_factory=dict)  # per segment, since first_seen
    first_seen: datetime | None = None
    last_update: datetime | None = None

    def arrive(self, now: datetime, segment: str) -> None:
        if self.first_seen is None:
            self.first_seen = now
        self.arrivals[segment] = self.arrivals.get(segment, 0) + 1

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
    ) -> float:
        self.last_update = now
        n = sum(self.arrivals.values())
        elapsed = (now - self.first_seen).total_seconds() if self.first_seen else 0.0
        if n < 20 or elapsed <= 0:
            return self.lam  # too little traffic seen to know the arrival rate
        rate = n / elapsed
        per_arrival = min(
            budget_left_fen / max(rate * seconds_left, 1.0),
            today_left_fen / max(rate * seconds_left_today, 1.0),
        )
        segments = [(s, c / n, values[s]) for s, c in self.arrivals.items() if s in values]
        self.lam = solve_lambda(posteriors, arms, segments, per_arrival, self.lam_min, self.lam_max, params)
        return self.lam
