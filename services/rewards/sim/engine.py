"""``skylane rewards simulate``: the learned policy, the baselines and the oracle on one scenario and seed.

The learned policy is the exact code the Offer RPC runs (``choose`` and the ``Pacer``), fed what
production feeds it. The yardsticks:
- the oracle: the LP relaxation over the whole run with the campaign's full budget and its daily cap,
  knowing every day's true responses (an upper bound on any policy's expected incremental value);
- the best single amount: every arm offered to everyone, first come first served or paced along the
  linear budget curve, the best of these chosen in hindsight — what a competent desk would set by hand;
- a random arm, and no coupon at all.
Value is the expected incremental value of the offers made under the true responses; spend is realised.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.rewards.domain.policy import NONE, Pacer, Posteriors, PropensityCache, choose, share_left
from services.rewards.runtime import policy_params
from services.rewards.sim.bound import RunBound, solve_run
from services.rewards.sim.market import SIM_START, Arrival, Market
from services.rewards.sim.run import Chooser, Run, RunResult
from services.rewards.sim.scenario import Scenario

LEARNED, BEST_SINGLE, RANDOM, NO_COUPON = "learned", "best_single", "random_arm", "no_coupon"


def ratio(value: float, yardstick: float) -> float | None:
    """value / yardstick where the yardstick gained something; 1.0 where neither gained anything (a market
    where no coupon pays, or no budget to spend); None where the ratio says nothing (a yardstick at or
    below zero against a value that is not): the yuan figures tell those apart, a ratio of infinity or one
    that flips its sign would not."""
    if yardstick > 0:
        return value / yardstick
    if value == yardstick == 0:
        return 1.0
    return None


@dataclass
class SimulationReport:
    scenario: str
    seed: int
    arrivals: int
    budget_fen: int
    oracle: RunBound
    results: dict[str, RunResult]  # learned, best_single, random_arm, no_coupon
    best_single_label: str  # which arm and pacing won the hindsight search
    final_lambda: float = 0.0

    @property
    def learned_vs_oracle(self) -> float | None:
        return ratio(self.results[LEARNED].incremental_value, self.oracle.value)

    @property
    def learned_vs_best_single(self) -> float | None:
        return ratio(self.results[LEARNED].incremental_value, self.results[BEST_SINGLE].incremental_value)

    @property
    def learned_vs_random(self) -> float | None:
        return ratio(self.results[LEARNED].incremental_value, self.results[RANDOM].incremental_value)

    @property
    def budget_utilisation(self) -> float:
        return self.results[LEARNED].spend / self.budget_fen


def _paced(market: Market, arm: str) -> Chooser:
    """Offer one arm while committed spend stays under the linear budget curve (plus a day's cap)."""
    sc = market.sc
    end = SIM_START + timedelta(days=sc.days)

    def chooser(a: Arrival, total_left: int, today_left: int) -> str:
        elapsed = (a.at - SIM_START) / (end - SIM_START)
        committed = sc.budget.total_fen - total_left
        allowed = sc.budget.total_fen * elapsed + sc.budget.daily_fen / 4
        face = market.face[arm]
        return arm if committed + face <= allowed and face <= min(total_left, today_left) else NONE

    return chooser


def _flat(market: Market, arm: str) -> Chooser:
    def chooser(a: Arrival, total_left: int, today_left: int) -> str:
        return arm if market.face[arm] <= min(total_left, today_left) else NONE

    return chooser


def _best_single(
    market: Market, outcome_seed: int, run: Callable[[str, Chooser], RunResult], tick: Callable[[], None]
) -> tuple[str, RunResult]:
    """The single amount and pacing a desk would pick in hindsight, and its run on the common draws.

    The pick is made on runs with their own outcome draws: the best of 2 × arms runs on the very draws it
    is reported on is the luckiest of them, and on a budget of a few coupons (the runs differ by which
    offers were claimed before it ran out) that luck put the best single amount above the oracle on
    average (three coupons: 1.18 × the oracle over ten seeds)."""
    choosers: dict[str, Chooser] = {}
    for arm in market.arms:
        choosers[f"{arm.id} to all"] = _flat(market, arm.id)
        choosers[f"{arm.id} paced"] = _paced(market, arm.id)
    picking = {}
    for label, chooser in choosers.items():
        picking[label] = Run(market, label, chooser, None, outcome_seed + 1).run()
        tick()
    label = max(picking, key=lambda k: picking[k].incremental_value)
    return label, run(label, choosers[label])


class LearnedPolicy:
    """The Offer RPC's decision code with its own posteriors and pacer, as one campaign's runtime holds them."""

    def __init__(self, market: Market, seed: int) -> None:
        sc = market.sc
        cfg = sc.policy
        self.m, self.params = market, policy_params(cfg)
        self.posteriors = Posteriors()
        self.pacer = Pacer(cfg.lambda_initial, cfg.lambda_min, cfg.lambda_max, cfg.pacing_interval_seconds)
        self.propensities = PropensityCache()
        self.rng = random.Random(seed)
        self.end = SIM_START + timedelta(days=sc.days)

    def __call__(self, a: Arrival, total_left: int, today_left: int) -> str:
        self.pacer.arrive(a.at, a.segment)
        if self.pacer.due(a.at):
            midnight = SIM_START + timedelta(days=a.day + 1)
            self.pacer.update(
                a.at,
                self.posteriors,
                self.m.arms,
                self.m.value,
                total_left,
                (self.end - a.at).total_seconds(),
                today_left,
                (midnight - a.at).total_seconds(),
                self.params,
                share_left(SIM_START, self.end, a.at),
            )
        choice = choose(
            self.posteriors,
            a.segment,
            self.m.arms,
            self.m.value[a.segment],
            self.pacer.lam,
            self.rng,
            self.params,
            min(total_left, today_left),
            self.propensities,
            self.pacer.left,
        )
        return choice.arm

    def learn(
        self, kind: str, segment: str, arm: str, claimed_at: datetime | None = None, at: datetime | None = None
    ) -> None:
        """What production's learning (service/learning.py) records, with the claim's and the event's times."""
        self.posteriors.record(kind, segment, arm, 1, claimed_at, at)


def simulate(sc: Scenario, tick: Callable[[], None] = lambda: None) -> SimulationReport:
    market = Market(sc)
    outcome_seed = sc.seed * 7919 + 1
    results: dict[str, RunResult] = {}

    def run(name: str, chooser: Chooser) -> RunResult:
        got = Run(market, name, chooser, None, outcome_seed).run()
        tick()
        return got

    results[NO_COUPON] = run(NO_COUPON, lambda a, t, d: NONE)
    pick = random.Random(sc.seed + 1)
    results[RANDOM] = run(
        RANDOM, lambda a, t, d: pick.choice([x.id for x in market.arms if x.discount_fen <= min(t, d)] or [NONE])
    )
    best_label, results[BEST_SINGLE] = _best_single(market, outcome_seed, run, tick)

    policy = LearnedPolicy(market, sc.seed + 2)
    results[LEARNED] = Run(market, LEARNED, policy, policy.learn, outcome_seed).run()
    tick()

    bound = solve_run(market.oracle_groups(), sc.budget.total_fen, sc.budget.daily_fen, market.touch_limits())
    return SimulationReport(
        sc.name,
        sc.seed,
        sum(len(d) for d in market.days),
        sc.budget.total_fen,
        bound,
        results,
        best_label,
        policy.pacer.lam,
    )


def runs_per_seed(sc: Scenario) -> int:
    """How many runs ``simulate`` makes (for progress bars): two per arm to pick the best single amount,
    four more (no coupon, random, the best single amount on the common draws, learned)."""
    return 2 * len(sc.arms) + 4
