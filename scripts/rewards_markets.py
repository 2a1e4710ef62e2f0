"""Random rewards markets of the kinds the policy must handle, for measuring it on markets it was never
tuned on: `skylane rewards simulate` runs each file like an example scenario.

    .venv/bin/python scripts/rewards_markets.py --seed 101 --out /tmp/markets
    skylane rewards simulate --scenario /tmp/markets/tight-101.yaml --seeds 2

One file per kind, drawn from the seed (the same seed gives the same files):
- alike: ten segments whose uplift curves are alike, five arms, a budget the policy can spend;
- differ: ten segments whose responsiveness differs up to fifteenfold, some whose dearest arm's
  threshold bites;
- dominant: one segment with 80% of the visits and little uplift, two small valuable ones;
- tight: three segments, a budget of 6-12% of what coupons for all would cost;
- cannibal: three responsive segments and one big segment that pays whether offered a coupon or not;
- long: sixty days, new customers every visit, a daily cap close to the average day.
Every kind has uplift concave in the discount with noise, repeat customers (but `long`), other campaigns'
touches, weekday peaks, refunds and a redemption delay of 0-2 days.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import market_files

# (discount, threshold, validity days) of the coupons a market's arms are drawn from
COUPONS = [(200, 1000, 3), (500, 2500, 14), (1000, 5000, 7), (1500, 7500, 3), (2000, 10000, 7), (3000, 15000, 7)]

Market = dict[str, Any]


class Draw:
    def __init__(self, seed: int) -> None:
        self.seed, self.rng = seed, random.Random(seed)

    def arms(self, k: int) -> list[dict[str, Any]]:
        picks = sorted(self.rng.sample(range(len(COUPONS)), k))
        return [
            {
                "id": f"c{i}",
                "discount_fen": COUPONS[j][0],
                "threshold_fen": COUPONS[j][1],
                "validity_days": COUPONS[j][2],
            }
            for i, j in enumerate(picks)
        ]

    def rates(self, arms: list[dict[str, Any]], base: float, scale: float, dip: float) -> dict[str, float]:
        """Uplift concave in the discount, scaled by the segment's responsiveness; `dip` takes that share off
        the dearest arm's uplift (its threshold keeps customers away)."""
        out = {}
        for i, a in enumerate(arms):
            u = scale * (a["discount_fen"] / 1000) ** 0.6 * 0.06 * self.rng.uniform(0.85, 1.15)
            if dip and i == len(arms) - 1:
                u *= 1 - dip
            out[a["id"]] = round(min(0.95, base + u), 4)
        return out

    def segment(
        self, i: int, arms: list[dict[str, Any]], share: float, value: int, scale: float, dip: float = 0.0
    ) -> dict[str, Any]:
        base = round(self.rng.uniform(0.05, 0.3), 4)
        return {
            "id": f"g{i}",
            "share": share,
            "value_fen": value,
            "base_rate": base,
            "rates": self.rates(arms, base, scale, dip),
        }

    def segments(
        self,
        ids: range | tuple[int, ...],
        arms: list[dict[str, Any]],
        share: tuple[float, float],
        values: list[int],
        scale: tuple[float, float],
        dips: list[float] | None = None,
    ) -> list[dict[str, Any]]:
        """Segments whose share, value per conversion, responsiveness and (given `dips`) dearest-arm dip are
        drawn from these ranges, in that order."""
        out = []
        for i in ids:
            drawn = (self.rng.uniform(*share), self.rng.choice(values), self.rng.uniform(*scale))
            dip = self.rng.choice(dips) if dips else 0.0
            out.append(self.segment(i, arms, *drawn, dip))
        return out

    def common(self, name: str, days: int, per_day: int) -> Market:
        return {
            "name": f"{name}-{self.seed}",
            "seed": self.seed,
            "days": days,
            "arrivals_per_day": per_day,
            "holdout_share": 0.1,
            "redeem_delay_days": self.rng.choice([0, 1, 2]),
            "customers": int(days * per_day / self.rng.uniform(4, 8)),
            "weekday_factors": [1, 1, 1, 1, 1.2, 1.5, 1.3],
            "refund_rate": 0.03,
            "other_touches_per_day": 0.5,
            "policy": {"propensity_draws": 8, "pacing_interval_seconds": 600},
        }


def budget(market: Market, share: float, daily_factor: float) -> dict[str, int]:
    """A total of `share` of what the dearest coupon to every visit would cost at the best response, and a
    daily cap `daily_factor` times the average day."""
    visits = market["days"] * market["arrivals_per_day"]
    weights = sum(s["share"] for s in market["segments"])
    dearest = max(a["discount_fen"] for a in market["arms"])
    full = sum(visits * s["share"] / weights * max(s["rates"].values()) * dearest for s in market["segments"])
    total = int(full * share)
    return {"total_fen": total, "daily_fen": int(total / market["days"] * daily_factor)}


def alike(d: Draw) -> Market:
    m = d.common("alike", 28, 2000)
    a = m["arms"] = d.arms(5)
    m["segments"] = d.segments(range(10), a, (0.5, 1.5), [4000, 5000, 6000], (0.8, 1.2))
    m["budget"] = budget(m, d.rng.uniform(0.2, 0.4), 1.5)
    return m


def differ(d: Draw) -> Market:
    m = d.common("differ", 28, 2000)
    a = m["arms"] = d.arms(5)
    m["segments"] = d.segments(range(10), a, (0.3, 1.5), [1500, 5000, 8000, 12000], (0.2, 3), [0, 0, 0.5])
    m["budget"] = budget(m, d.rng.uniform(0.2, 0.4), 1.5)
    return m


def dominant(d: Draw) -> Market:
    m = d.common("dominant", 21, 800)
    a = m["arms"] = d.arms(4)
    segments = [d.segment(0, a, 8.0, 1500, d.rng.uniform(0.1, 0.4))]
    segments += d.segments((1, 2), a, (0.4, 1.2), [8000, 12000], (1.5, 3), [0, 0.5])
    m["segments"] = segments
    m["budget"] = budget(m, d.rng.uniform(0.25, 0.45), 1.5)
    return m


def tight(d: Draw) -> Market:
    m = d.common("tight", 28, 800)
    a = m["arms"] = d.arms(4)
    m["segments"] = d.segments(range(3), a, (0.5, 1.5), [3000, 8000, 12000], (0.5, 2.5), [0, 0.4])
    m["budget"] = budget(m, d.rng.uniform(0.06, 0.12), 1.5)
    return m


def cannibal(d: Draw) -> Market:
    m = d.common("cannibal", 28, 800)
    a = m["arms"] = d.arms(4)
    segments = d.segments(range(3), a, (0.5, 1.5), [5000, 8000, 12000], (0.8, 2))
    pays = round(d.rng.uniform(0.4, 0.6), 4)
    share = d.rng.uniform(1, 2)
    rates = {x["id"]: round(pays + d.rng.uniform(0, 0.01), 4) for x in a}  # a coupon changes nothing
    segments.append({"id": "g3", "share": share, "value_fen": 8000, "base_rate": pays, "rates": rates})
    m["segments"] = segments
    m["budget"] = budget(m, d.rng.uniform(0.2, 0.35), 1.5)
    return m


def long(d: Draw) -> Market:
    m = d.common("long", 60, 400)
    del m["customers"]  # a new customer every visit: only the daily cap paces
    a = m["arms"] = d.arms(4)
    m["segments"] = d.segments(range(3), a, (0.4, 1.0), [1500, 8000, 12000], (0.5, 2.5))
    m["budget"] = budget(m, d.rng.uniform(0.25, 0.4), 1.15)
    return m


KINDS: tuple[Callable[[Draw], Market], ...] = (alike, differ, dominant, tight, cannibal, long)


def write_markets(seed: int, out: Path) -> list[Path]:
    """One file per kind, all drawn from one stream seeded with `seed`."""
    return market_files.write_markets(Draw(seed), KINDS, out, lambda _kind, market: market["name"])


if __name__ == "__main__":
    market_files.main(__doc__, write_markets)
