"""Day-by-day simulation of a campaign under the real allocation code, baselines and the LP oracle.

Every policy sees the same arrivals (common random numbers) and the same holdout; the holdout is never
treated and only teaches the learned policy the no-coupon response. Values are *expected* values under
the true curves of the actions actually taken (lower variance than counting lucky conversions); spend is
checked against the budget with realised redemptions, as the service does.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from services.rewards.domain import holdout, oracle
from services.rewards.domain.policy import (
    BASELINE,
    NONE,
    ArmSpec,
    Pacer,
    Posteriors,
    choose,
)
from services.rewards.runtime import policy_params
from services.rewards.sim.scenario import Scenario

SIM_START = datetime(2026, 1, 1, tzinfo=UTC)
POLICIES = ("no_coupon", "flat_coupon", "random_arm", "greedy_uplift_per_cost", "learned")


@dataclass
class PolicyResult:
    name: str
    offers: int = 0
    conversions: int = 0  # realised redemptions
    incremental_conversions: float = 0.0  # expected, under the true curves
    incremental_value: float = 0.0  # expected, fen
    expected_spend: float = 0.0  # expected face value paid out, fen
    spend: int = 0  # realised face value paid out, fen
    oracle_at_same_spend: float = 0.0
    daily_value: list[float] = field(default_factory=list)  # cumulative incremental value by day end

    @property
    def share_of_oracle(self) -> float:
        return self.incremental_value / self.oracle_at_same_spend if self.oracle_at_same_spend > 0 else 0.0


@dataclass
class SimulationReport:
    scenario: str
    arrivals: int
    treated_arrivals: int
    budget_fen: int
    oracle: oracle.OracleResult
    results: dict[str, PolicyResult]
    final_lambda: float = 0.0


Chooser = Callable[[str, int, int, datetime], str]  # segment, budget left, today left, now


class _Population:
    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.arms = sorted((ArmSpec(a.id, a.discount_fen) for a in sc.arms), key=lambda a: a.discount_fen)
        self.discount = {a.id: a.discount_fen for a in sc.arms}
        self.seg = {s.id: s for s in sc.segments}
        rng = random.Random(sc.seed)
        ids = [s.id for s in sc.segments]
        shares = [s.share for s in sc.segments]
        # arrivals[day] = list of (customer id, segment, in holdout?)
        self.arrivals: list[list[tuple[str, str, bool]]] = []
        for day in range(sc.days):
            today = []
            for i, seg in enumerate(rng.choices(ids, weights=shares, k=sc.arrivals_per_day)):
                cust = f"sim-{day}-{i}"
                today.append((cust, seg, holdout.assign(sc.name, cust, sc.holdout_share) == holdout.HOLDOUT))
            self.arrivals.append(today)

    def rate(self, seg: str, arm: str) -> float:
        s = self.seg[seg]
        return s.base_rate if arm == NONE else s.rates[arm]

    def uplift_value(self, seg: str, arm: str) -> float:
        s = self.seg[seg]
        return (self.rate(seg, arm) - s.base_rate) * s.value_fen

    def groups(self) -> list[oracle.Group]:
        counts: dict[str, int] = {}
        for day in self.arrivals:
            for _c, seg, held in day:
                if not held:
                    counts[seg] = counts.get(seg, 0) + 1
        return [
            oracle.Group(
                seg,
                n,
                [
                    oracle.Option(a.id, self.rate(seg, a.id) * a.discount_fen, self.uplift_value(seg, a.id))
                    for a in self.arms
                ],
            )
            for seg, n in counts.items()
        ]


def _run(
    pop: _Population,
    name: str,
    chooser: Chooser,
    on_outcome: Callable[[str, str, bool], None] | None,
    on_day_end: Callable[[], None] | None,
    seed: int,
    tick: Callable[[], None],
    on_spend: Callable[[datetime, int], None] | None = None,
) -> PolicyResult:
    sc, res = pop.sc, PolicyResult(name)
    rng = random.Random(seed)  # outcome draws; same seed for every policy
    n = sc.arrivals_per_day
    for day, today in enumerate(pop.arrivals):
        day_spent = 0
        batch = max(1, n // sc.feedback_batches_per_day)
        for i, (_cust, seg, held) in enumerate(today):
            now = SIM_START + timedelta(days=day + i / n)
            if on_day_end and i and i % batch == 0:
                on_day_end()  # outcomes so far reach the learner
            if held:
                converted = rng.random() < pop.rate(seg, NONE)
                if on_outcome:
                    on_outcome(seg, BASELINE, converted)
                continue
            total_left, today_left = sc.budget.total_fen - res.spend, sc.budget.daily_fen - day_spent
            left = min(total_left, today_left)
            arm = chooser(seg, total_left, today_left, now)
            u = rng.random()
            if arm == NONE or pop.discount[arm] > left:
                continue
            p = pop.rate(seg, arm)
            res.offers += 1
            res.incremental_conversions += p - pop.rate(seg, NONE)
            res.incremental_value += pop.uplift_value(seg, arm)
            res.expected_spend += p * pop.discount[arm]
            converted = u < p
            if converted:
                res.conversions += 1
                res.spend += pop.discount[arm]
                day_spent += pop.discount[arm]
                if on_spend:
                    on_spend(now, res.spend)
            if on_outcome:
                on_outcome(seg, arm, converted)
        if on_day_end:
            on_day_end()
        res.daily_value.append(res.incremental_value)
        tick()
    return res


def simulate(sc: Scenario, tick: Callable[[], None] = lambda: None) -> SimulationReport:
    pop = _Population(sc)
    arm_ids = [a.id for a in pop.arms]
    results: dict[str, PolicyResult] = {}
    outcome_seed = sc.seed * 7919 + 1

    results["no_coupon"] = _run(pop, "no_coupon", lambda s, b, d, t: NONE, None, None, outcome_seed, tick)
    results["flat_coupon"] = _run(pop, "flat_coupon", lambda s, b, d, t: sc.flat_arm, None, None, outcome_seed, tick)
    pick = random.Random(sc.seed + 1)
    results["random_arm"] = _run(
        pop, "random_arm", lambda s, b, d, t: pick.choice(arm_ids), None, None, outcome_seed, tick
    )

    # Greedy by uplift per cost (knows the true curves): each segment's best-ratio arm, first come first served.
    best: dict[str, str] = {}
    for seg in pop.seg:
        ratios = [
            (pop.uplift_value(seg, a.id) / (pop.rate(seg, a.id) * a.discount_fen), a.id)
            for a in pop.arms
            if pop.uplift_value(seg, a.id) > 0 and pop.rate(seg, a.id) > 0
        ]
        best[seg] = max(ratios)[1] if ratios else NONE
    results["greedy_uplift_per_cost"] = _run(
        pop, "greedy_uplift_per_cost", lambda s, b, d, t: best[s], None, None, outcome_seed, tick
    )

    # The learned policy: the exact code the Offer RPC runs.
    cfg = sc.policy
    params = policy_params(cfg)
    post = Posteriors()
    end = SIM_START + timedelta(days=sc.days)
    pacer = Pacer(cfg.lambda_initial, cfg.lambda_min, cfg.lambda_max, cfg.pacing_interval_seconds)
    values = {s.id: float(s.value_fen) for s in sc.segments}
    policy_rng = random.Random(sc.seed + 2)
    pending: list[tuple[str, str, bool]] = []

    def learned(seg: str, total_left: int, today_left: int, now: datetime) -> str:
        pacer.arrive(now, seg)
        if pacer.due(now):
            day_end_at = SIM_START + timedelta(days=(now - SIM_START).days + 1)
            pacer.update(
                now,
                post,
                pop.arms,
                values,
                total_left,
                (end - now).total_seconds(),
                today_left,
                (day_end_at - now).total_seconds(),
                params,
            )
        value = pop.seg[seg].value_fen
        return choose(post, seg, pop.arms, value, pacer.lam, policy_rng, params, min(total_left, today_left)).arm

    def outcome(seg: str, arm: str, converted: bool) -> None:
        pending.append((seg, arm, converted))

    def day_end() -> None:
        # Outcomes reach the learner in batches: redemptions arrive after the offer in real life.
        for seg, arm, converted in pending:
            post.record_trial(seg, arm)
            if converted:
                post.record_success(seg, arm)
        pending.clear()

    results["learned"] = _run(pop, "learned", learned, outcome, day_end, outcome_seed, tick)

    groups = pop.groups()
    for r in results.values():
        r.oracle_at_same_spend = oracle.solve(groups, r.expected_spend).value
    full = oracle.solve(groups, sc.budget.total_fen)
    treated = sum(g.weight for g in groups)
    return SimulationReport(
        sc.name,
        sc.days * sc.arrivals_per_day,
        int(treated),
        sc.budget.total_fen,
        full,
        results,
        pacer.lam,
    )
