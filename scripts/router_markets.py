"""Random router markets of the kinds the partner selection must handle, for measuring it on markets it
was never tuned on: `skylane router simulate` runs each file like an example scenario.

    .venv/bin/python scripts/router_markets.py --seed 201 --out /tmp/router-markets
    skylane router simulate --scenario /tmp/router-markets/tiers-201.yaml --seeds 5 --no-svg

One file per kind, drawn from the seed (the same seed gives the same files):
- tiers: four to seven partners whose rates depend on the tier only and never change;
- features: four or five partners whose funding (and some acceptance) moves with one or two of the lead's
  region, amount, channel, score band and age, one bidding more on the leads it funds more;
- drift: four to six partners, two or three of whom change on a schedule (a collapse, a ramp, a rise);
- caps: the most valuable partner capped per day (or per hour and week), an evening or morning peak;
- chain: two or three posts in a time budget, slow deciders, a short acceptance window, a cost per post;
- delays: funding reported one to four days after the post, rates by tier and amount;
- many: twelve to eighteen small partners bidding on a quarter to half of the leads, from a cold start;
- many-caps: the many market with caps on most partners (up to six capped per hour and month, up to six
  per day), its 8 days ending with January so that every capped window ends within the run (written
  beside the kinds, from the many market: the other files of a seed are as without it).
Every kind draws its partners' bids, rates, spreads and funding-report delays anew; the registry's
waterfall is the partners by mean bid, as a desk that read only the bids would set it.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import market_files
import yaml

Market = dict[str, Any]
TIERS = ("near_prime", "tail", "thin_file")
REGIONS = ("CN-11", "CN-31", "CN-44", "CN-51", "CN-65")
CHANNELS = ("airline_app", "sms", "mini_program")
AMOUNTS = ("<10k", "10k-30k", "30k-50k")
SCORES = ("500-549", "550-599", "600-649", "650-699")
AGES = ("18-24", "25-34", "35-44", "45-54")


class Draw:
    def __init__(self, seed: int) -> None:
        self.seed, self.rng = seed, random.Random(seed)

    def r(self, low: float, high: float, digits: int = 3) -> float:
        return round(self.rng.uniform(low, high), digits)

    def tiers(self, k: int) -> dict[str, float]:
        weights = [self.rng.uniform(0.2, 1.0) for _ in range(k)]
        return {t: round(w / sum(weights), 3) for t, w in zip(TIERS[:k], weights, strict=False)}

    def by_tier(self, tiers: list[str], low: float, high: float, step: float = 0.0) -> dict[str, float]:
        """A value per tier, falling by about `step` (a share) from each tier to the next."""
        top = self.rng.uniform(low, high)
        return {t: round(top * (1 - step) ** i * self.rng.uniform(0.9, 1.1), 3) for i, t in enumerate(tiers)}

    def partner(self, i: int, tiers: list[str], *, bid_rate: tuple[float, float] = (1.0, 1.0)) -> dict[str, Any]:
        """A partner whose bid, acceptance and funding per tier are drawn independently: a high bidder may
        fund little, a low one much (what makes the order by bid wrong)."""
        bids = self.by_tier(tiers, 2500, 6000, 0.3)
        spec: dict[str, Any] = {
            "id": f"p{i}",
            "bid_fen": {t: int(b) for t, b in bids.items()},
            "bid_spread": self.r(0.1, 0.3, 2),
            "accept_rate": {t: min(0.95, v) for t, v in self.by_tier(tiers, 0.35, 0.95, 0.05).items()},
            "fund_rate": {t: min(0.9, v) for t, v in self.by_tier(tiers, 0.2, 0.7, 0.15).items()},
            "fund_delay_hours": self.rng.choice([0, 2, 6, 12]),
        }
        if bid_rate != (1.0, 1.0):
            spec["bid_rate"] = self.r(*bid_rate, 2)
        return spec

    def partners(self, n: int, tiers: list[str], **kw: Any) -> list[dict[str, Any]]:
        return [self.partner(i, tiers, **kw) for i in range(n)]

    def common(self, applicants: int, days: int, tiers: int) -> Market:
        return {"seed": self.seed, "applicants": applicants, "days": days, "tiers": self.tiers(tiers)}


def registry(market: Market, caps: dict[str, dict[str, int]] | None = None, **extra: Any) -> dict[str, Any]:
    """Lenders for every partner in every tier of the market and the waterfall by mean bid."""
    tiers = list(market["tiers"])
    lenders = []
    for n, p in enumerate(market["partners"]):
        lender: dict[str, Any] = {
            "id": p["id"],
            "endpoint": f"127.0.0.1:{51000 + n}",  # never dialled: the simulator answers for the partner
            "tiers": tiers,
            "annual_cost_rate": 0.15,
            "allow_listed": True,
        }
        if caps and p["id"] in caps:
            lender["caps"] = caps[p["id"]]
        lenders.append(lender)
    waterfall = {t: sorted((p["id"] for p in market["partners"]), key=lambda i: -_bid(market, i, t)) for t in tiers}
    return {"policy": "thompson", "pool_tiers": tiers, "waterfall": waterfall, "lenders": lenders, **extra}


def _bid(market: Market, partner_id: str, tier: str) -> float:
    p = next(p for p in market["partners"] if p["id"] == partner_id)
    return float(p["bid_fen"].get(tier, 0)) * float(p.get("bid_rate", 1.0))


def tiers(d: Draw) -> Market:
    m = d.common(6000, 7, d.rng.choice([2, 3]))
    m["partners"] = d.partners(d.rng.randint(4, 7), list(m["tiers"]), bid_rate=(0.8, 1.0))
    m["chain"] = {"max_posts": d.rng.choice([2, 3, None])}
    m["registry"] = registry(m)
    return m


def _effects(d: Draw, groups: int) -> dict[str, dict[str, float]]:
    values = {"region": REGIONS, "amount": AMOUNTS, "channel": CHANNELS, "score": SCORES, "age": AGES}
    out = {}
    for group in d.rng.sample(sorted(values), groups):
        picked = d.rng.sample(values[group], 2)
        out[group] = {picked[0]: d.r(1.8, 3.0, 2), picked[1]: d.r(0.3, 0.55, 2)}
    return out


def features(d: Draw) -> Market:
    m = d.common(10000, 9, 2)
    m["mix"] = {
        "score": {"near_prime": [640, 25], "tail": [560, 30]},
        "regions": {r: d.r(0.1, 0.4, 2) for r in REGIONS},
        "channels": {c: d.r(0.2, 0.5, 2) for c in CHANNELS},
        "amount_yuan": [
            {"low": 3000, "high": 10000, "weight": 0.3},
            {"low": 10000, "high": 30000, "weight": 0.45},
            {"low": 30000, "high": 50000, "weight": 0.25},
        ],
    }
    partners = d.partners(d.rng.randint(4, 5), list(m["tiers"]))
    for p in partners:
        p["fund_effects"] = _effects(d, d.rng.choice([1, 2]))
        if d.rng.random() < 0.3:
            p["accept_effects"] = _effects(d, 1)
    partners[0]["fund_bid_link"] = d.r(0.8, 1.5, 2)
    m["partners"] = partners
    m["chain"] = {"max_posts": d.rng.choice([2, 3])}
    m["registry"] = registry(m)
    return m


def _change(d: Draw, partner: dict[str, Any], tiers: list[str], days: int) -> dict[str, Any]:
    kind = d.rng.choice(["collapse", "ramp", "rise", "accept"])
    at = d.r(2, days * 0.6, 1)
    change: dict[str, Any] = {"partner": partner["id"], "at_day": at}
    if kind == "ramp":
        change["until_day"] = round(min(days - 0.5, at + d.r(1.5, 4, 1)), 1)
    if kind == "accept":
        change["accept_rate"] = {t: round(partner["accept_rate"][t] * d.r(0.15, 0.4, 2), 3) for t in tiers}
        return change
    factor = d.r(0.25, 0.5, 2) if kind == "collapse" else d.r(1.5, 2.2, 2)
    change["fund_rate"] = {t: round(min(0.9, partner["fund_rate"][t] * factor), 3) for t in tiers}
    return change


def drift(d: Draw) -> Market:
    m = d.common(10000, 12, 2)
    tiers_ = list(m["tiers"])
    m["partners"] = d.partners(d.rng.randint(4, 6), tiers_)
    for p in m["partners"]:
        p["fund_delay_hours"] = d.rng.choice([4, 8, 12, 16])
    moving = d.rng.sample(m["partners"], d.rng.choice([2, 3]))
    m["schedule"] = [_change(d, p, tiers_, m["days"]) for p in moving]
    m["chain"] = {"max_posts": d.rng.choice([2, 3])}
    m["registry"] = registry(m)
    return m


def _value(partner: dict[str, Any], tiers_: list[str]) -> float:
    return sum(partner["bid_fen"][t] * partner["accept_rate"][t] * partner["fund_rate"][t] for t in tiers_)


def caps(d: Draw) -> Market:
    m = d.common(8000, 8, 2)
    tiers_ = list(m["tiers"])
    m["partners"] = d.partners(d.rng.randint(4, 5), tiers_)
    best = max(m["partners"], key=lambda p: _value(p, tiers_))
    per_day = m["applicants"] / m["days"]
    limits = {best["id"]: {"day": int(per_day * d.r(0.1, 0.25, 3))}}
    other = d.rng.choice([p for p in m["partners"] if p is not best])
    limits[other["id"]] = {"hour": int(per_day / 24 * d.r(0.4, 0.8)) or 1, "week": int(per_day * 7 * d.r(0.15, 0.3))}
    evening = d.rng.random() < 0.5
    profile = [1, 1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 9, 9, 8, 5, 2]
    m["hourly_profile"] = profile if evening else [*profile[12:], *profile[:12]][::-1]
    m["registry"] = registry(m, limits, caps_timezone="Asia/Shanghai")
    return m


def chain(d: Draw) -> Market:
    m = d.common(8000, 8, 2)
    m["partners"] = d.partners(d.rng.randint(4, 6), list(m["tiers"]))
    for p in m["partners"]:
        p["post_latency_ms"] = d.rng.choice([2000, 5000, 30000, 120000, 240000])
    d.rng.choice(m["partners"])["accept_window_s"] = d.rng.choice([60, 90, 120])
    m["chain"] = {
        "max_posts": d.rng.choice([2, 3]),
        "time_budget_s": d.rng.choice([300, 600, 900]),
        "post_cost_fen": d.rng.choice([0, 200, 400]),
    }
    m["registry"] = registry(m)
    return m


def delays(d: Draw) -> Market:
    m = d.common(8000, 12, 2)
    bands = [{"low": 3000, "high": 10000, "weight": 0.4}, {"low": 10000, "high": 50000, "weight": 0.6}]
    m["mix"] = {"amount_yuan": bands}
    m["partners"] = d.partners(d.rng.randint(4, 5), list(m["tiers"]))
    for p in m["partners"]:
        p["fund_delay_hours"] = d.rng.choice([24, 48, 72, 96])
        p["fund_effects"] = {"amount": {"<10k": d.r(0.4, 2.0, 2)}}
    m["chain"] = {"max_posts": d.rng.choice([2, 3])}
    m["registry"] = registry(m)
    return m


def many(d: Draw) -> Market:
    m = d.common(8000, 8, 2)
    m["partners"] = d.partners(d.rng.randint(12, 18), list(m["tiers"]), bid_rate=(0.25, 0.55))
    for p in m["partners"]:
        p["fund_delay_hours"] = d.rng.choice([6, 10, 14])
    m["chain"] = {"max_posts": 3}
    m["registry"] = registry(m)
    return m


KINDS: tuple[Callable[[Draw], Market], ...] = (tiers, features, drift, caps, chain, delays, many)


def with_caps(many_market: Market) -> Market:
    """The many market with caps on most partners: the first k lenders (k = min(6, (n − 2) // 2), n
    partners) capped at 6 + i an hour and 300 + 40·i a month, the next k at 60 a day, two or more left
    uncapped. Its run starts on 24 January so that the month ends with the run: the upper bound (an LP over
    the run) may spend a cap within the run, the router paces it over its window (docs/router-decisions.md
    § 3), so a window past the run's end would measure that, not the policy."""
    m = copy.deepcopy(many_market)
    lenders = m["registry"]["lenders"]
    k = min(6, (len(lenders) - 2) // 2)
    for i, lender in enumerate(lenders[:k]):
        lender["caps"] = {"hour": 6 + i, "month": 300 + 40 * i}
    for lender in lenders[k : 2 * k]:
        lender["caps"] = {"day": 60}
    m["registry"]["caps_timezone"] = "Asia/Shanghai"
    m["start"] = "2026-01-24T00:00:00+08:00"
    return m


def write_markets(seed: int, out: Path) -> list[Path]:
    """One file per kind, all drawn from one stream seeded with `seed`, and the many market with caps."""
    written = market_files.write_markets(Draw(seed), KINDS, out, lambda kind, _market: f"{kind}-{seed}")
    many = yaml.safe_load((out / f"many-{seed}.yaml").read_text(encoding="utf-8"))
    path = out / f"many-caps-{seed}.yaml"
    path.write_text(yaml.safe_dump(with_caps(many), sort_keys=False), encoding="utf-8")
    return [*written, path]


if __name__ == "__main__":
    market_files.main(__doc__, write_markets)
