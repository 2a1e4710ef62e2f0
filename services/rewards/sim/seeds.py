"""Several seeds of one scenario: each yardstick's mean and spread, and the learning curves."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.rewards.sim.engine import BEST_SINGLE, LEARNED, RANDOM, SimulationReport, simulate
from services.rewards.sim.scenario import Scenario


@dataclass(frozen=True)
class Spread:
    mean: float
    sd: float
    low: float
    high: float

    @staticmethod
    def of(values: list[float]) -> Spread:
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return Spread(statistics.fmean(values), sd, min(values), max(values))


@dataclass
class SeedsSummary:
    scenario: str
    seeds: list[int]
    reports: list[SimulationReport]

    def spread(self, measure: Callable[[SimulationReport], float]) -> Spread:
        return Spread.of([measure(r) for r in self.reports])

    def curves(self) -> dict[str, list[float]]:
        """Cumulative incremental value per yuan of expected spend at each day's end, mean over seeds."""
        out: dict[str, list[float]] = {}
        for name in (LEARNED, BEST_SINGLE, RANDOM):
            per_seed = []
            for r in self.reports:
                res = r.results[name]
                per_seed.append(
                    [v / s if s > 0 else 0.0 for v, s in zip(res.daily_value, res.daily_spend, strict=True)]
                )
            out[name] = [statistics.fmean(day) for day in zip(*per_seed, strict=True)]
        return out


def run_seeds(sc: Scenario, seeds: int, tick: Callable[[], None] = lambda: None) -> SeedsSummary:
    chosen = [sc.seed + k for k in range(seeds)]
    return SeedsSummary(sc.name, chosen, [simulate(sc.model_copy(update={"seed": s}), tick) for s in chosen])


MEASURES: dict[str, Callable[[SimulationReport], float]] = {
    "learned / oracle": lambda r: r.learned_vs_oracle,
    "learned / best single amount": lambda r: r.learned_vs_best_single,
    "learned / random arm": lambda r: (
        r.results[LEARNED].incremental_value / max(r.results[RANDOM].incremental_value, 1e-9)
    ),
    "budget utilisation": lambda r: r.budget_utilisation,
    "overspend ¥": lambda r: r.results[LEARNED].overspend / 100,
    "days over the daily cap": lambda r: float(r.results[LEARNED].days_over_cap),
}


def document(summary: SeedsSummary) -> dict[str, Any]:
    """The summary as JSON values: every measure's spread, and per seed the yuan figures."""

    def spread(s: Spread) -> dict[str, float]:
        return {"mean": round(s.mean, 6), "sd": round(s.sd, 6), "min": round(s.low, 6), "max": round(s.high, 6)}

    return {
        "scenario": summary.scenario,
        "seeds": summary.seeds,
        "measures": {name: spread(summary.spread(f)) for name, f in MEASURES.items()},
        "per_seed": [
            {
                "seed": r.seed,
                "oracle_yuan": round(r.oracle.value / 100, 2),
                "best_single": r.best_single_label,
                "incremental_value_yuan": {k: round(v.incremental_value / 100, 2) for k, v in r.results.items()},
                "spend_yuan": {k: v.spend / 100 for k, v in r.results.items()},
                "final_lambda": round(r.final_lambda, 6),
            }
            for r in summary.reports
        ],
        "curves_value_per_yuan": {k: [round(v, 4) for v in c] for k, c in summary.curves().items()},
    }
