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
    """Over the seeds where the measure is defined (a ratio to a yardstick that gained nothing is not);
    every field None where it is defined on none."""

    mean: float | None
    sd: float | None
    low: float | None
    high: float | None

    @staticmethod
    def of(values: list[float | None]) -> Spread:
        kept = [v for v in values if v is not None]
        if not kept:
            return Spread(None, None, None, None)
        sd = statistics.stdev(kept) if len(kept) > 1 else 0.0
        return Spread(statistics.fmean(kept), sd, min(kept), max(kept))


@dataclass
class SeedsSummary:
    scenario: str
    seeds: list[int]
    reports: list[SimulationReport]

    def spread(self, measure: Callable[[SimulationReport], float | None]) -> Spread:
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


MEASURES: dict[str, Callable[[SimulationReport], float | None]] = {
    "learned / oracle": lambda r: r.learned_vs_oracle,
    "learned / best single amount": lambda r: r.learned_vs_best_single,
    "learned / random arm": lambda r: r.learned_vs_random,
    "budget utilisation": lambda r: r.budget_utilisation,
    "overspend ¥": lambda r: r.results[LEARNED].overspend / 100,
    "days over the daily cap": lambda r: float(r.results[LEARNED].days_over_cap),
}


def document(summary: SeedsSummary) -> dict[str, Any]:
    """The summary as JSON values: every measure's spread, and per seed the yuan figures."""

    def spread(s: Spread) -> dict[str, float | None]:
        return {"mean": _round(s.mean), "sd": _round(s.sd), "min": _round(s.low), "max": _round(s.high)}

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


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 6)
