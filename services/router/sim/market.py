"""The simulated market of one seed: applicants with features arriving over the run, every eligible partner's
ping answer (bid, no bid, known, timeout, error), and — hidden from every policy — each partner's true
P(accept) and P(fund | accepted) for that lead at that moment, its decision time, and the coin flips that
settle acceptance and funding. Generated once per seed and shared by every policy (common random numbers),
so differences between policies are the policies', not the dice's.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.router.partners.config import CAP_WINDOWS, CapWindow, Partner, PartnersConfig
from services.router.partners.domain import (
    BID,
    ERROR,
    NO_BID,
    TIMEOUT,
    Consent,
    LeadApplicant,
    PingResult,
    cap_window_bounds,
    prefilter,
)
from services.router.partners.estimates import lead_features
from services.router.sim.scenario import Appetite, Band, Scenario, SimPartner, effect, lognormal, with_odds

DAY = 86_400.0


@dataclass(frozen=True)
class Truth:
    """One partner's hidden truth for one lead."""

    accept: float
    fund: float
    post_ms: float
    u_accept: float
    u_fund: float
    fund_delay_s: float


@dataclass(frozen=True)
class SimLead:
    index: int
    at: float  # seconds since the scenario's start
    applicant: LeadApplicant
    pings: list[PingResult]
    truth: dict[str, Truth]

    @property
    def lead_id(self) -> str:
        return f"sim-{self.index:08d}"


def _pick(rng: random.Random, shares: dict[str, float]) -> str:
    keys = list(shares)
    return rng.choices(keys, weights=[shares[k] for k in keys])[0]


def _amount(rng: random.Random, bands: list[Band]) -> int:
    band = rng.choices(bands, weights=[b.weight for b in bands])[0]
    yuan = rng.uniform(band.low, band.high)
    return max(100, int(round(yuan / 100) * 100) * 100)


def run_hours(scenario: Scenario, zone: ZoneInfo) -> set[int]:
    """The local hours of the day the run covers (all 24 for a run of a day or more)."""
    span = scenario.days * DAY
    local = scenario.start.astimezone(zone)
    into_hour = local.minute * 60 + local.second + local.microsecond / 1e6
    # the start, then the start of every local hour within the run (at most a day of them matters)
    moments = [0.0, *(3600 - into_hour + 3600 * k for k in range(25))]
    return {(scenario.start + timedelta(seconds=t)).astimezone(zone).hour for t in moments if t < span}


def arrival_hours_problem(scenario: Scenario, zone: ZoneInfo) -> str | None:
    """Why no applicant could arrive, if the hourly profile weighs none of the local hours the run covers
    (a run of hours at night with a daytime profile): drawing arrivals would never end."""
    profile = scenario.hourly_profile
    if profile is None:
        return None
    hours = run_hours(scenario, zone)
    if any(profile[h] > 0 for h in hours):
        return None
    return (
        f"hourly_profile weighs none of the hours the run covers ({', '.join(f'{h:02d}h' for h in sorted(hours))} "
        f"in {zone.key}): no applicant could arrive"
    )


# A cap window reaching this share of the run past its end is flagged (a day window past a run that ends in
# the morning is not: the last partial day is a small part of a run of several days).
PAST_RUN_SHARE = 0.1
_WINDOW_SECONDS: dict[CapWindow, float] = {"hour": 3600.0, "day": DAY, "week": 7 * DAY, "month": 31 * DAY}


def _shorter_caps_allow(limits: dict[CapWindow, int], window: CapWindow, seconds: float) -> float:
    """The most a partner's shorter windows let it take over `seconds` (one window more than fit, at most)."""
    allowed = math.inf
    for kind, cap in limits.items():
        if _WINDOW_SECONDS[kind] < _WINDOW_SECONDS[window]:
            allowed = min(allowed, cap * (math.ceil(seconds / _WINDOW_SECONDS[kind]) + 1))
    return allowed


def caps_past_run(scenario: Scenario, registry: PartnersConfig) -> list[str]:
    """Capped windows that reach well past the run's end and could bind at all (the partner's shorter caps
    allow more over the whole window). The upper bound (an LP over the run) may spend such a cap within the
    run, or ignore it where the run is too short to fill it; the router cannot know that traffic ends and
    paces it over the whole window either way, so learned / bound then measures the run's end, not the
    policy."""
    zone = ZoneInfo(registry.caps_timezone)
    end = scenario.start + timedelta(days=scenario.days)
    last = (end - timedelta(seconds=1)).astimezone(zone)
    run_s = scenario.days * DAY
    notes = []
    for lender in registry.lenders:
        limits = lender.caps.limits()
        for window in (w for w in CAP_WINDOWS if w in limits):
            start, window_end = cap_window_bounds(last, registry.caps_timezone, window)
            past = (window_end - end).total_seconds()
            if past <= PAST_RUN_SHARE * run_s:
                continue
            if limits[window] >= _shorter_caps_allow(limits, window, (window_end - start).total_seconds()):
                continue  # its shorter caps bind first, whatever the traffic
            notes.append(
                f"{lender.id}'s {window} cap of {limits[window]} runs {past / DAY:.1f} days past the run's end: "
                "the bound may spend it, or ignore it, within the run; the router paces it over the whole window"
            )
    return notes


def idle_parts(scenario: Scenario, registry: PartnersConfig) -> list[str]:
    """Parts of a valid scenario that can change nothing in its run: a schedule change that starts at or
    after the run's end, and a tier with applicants that no lender of the registry serves (its leads are
    never posted, so every policy, the bound included, earns nothing from them)."""
    notes = [
        f"schedule change {i} of {c.partner} starts on day {c.at_day:g}, after the run's {scenario.days:g} days: "
        "it never applies"
        for i, c in enumerate(scenario.schedule)
        if c.at_day >= scenario.days
    ]
    served = {tier for lender in registry.lenders for tier in lender.tiers}
    for tier, share in scenario.tiers.items():
        if share > 0 and tier not in served:
            notes.append(f"tier {tier} has applicants but no lender of the registry serves it: its leads earn nothing")
    return notes


class Market:
    def __init__(self, scenario: Scenario, registry: PartnersConfig, seed: int, applicants: int | None = None) -> None:
        self.scenario, self.registry, self.seed = scenario, registry, seed
        self.total = applicants or scenario.applicants
        self.specs = {p.id: p for p in scenario.partners}
        self.appetite = {
            p.id: Appetite(p, [c for c in scenario.schedule if c.partner == p.id]) for p in scenario.partners
        }
        self.partners = registry.by_id()
        self.start = scenario.start
        self.zone = ZoneInfo(registry.caps_timezone)
        rng = random.Random(seed)
        classes = frozenset(p.partner_class for p in registry.lenders)
        self.consent = Consent(frozenset(), classes, frozenset({registry.consent_purpose}), scenario.start)
        times = self._arrivals(rng)
        self.leads = [self._lead(i, t, rng) for i, t in enumerate(times)]

    def time(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)

    def _arrivals(self, rng: random.Random) -> list[float]:
        problem = arrival_hours_problem(self.scenario, self.zone)
        if problem:
            raise ValueError(problem)
        span = self.scenario.days * DAY
        profile = self.scenario.hourly_profile
        out: list[float] = []
        # Rejection sampling against the heaviest hour the run covers, not of the whole day: a short run in
        # the profile's quiet hours would otherwise draw many times for each arrival.
        top = max(profile[h] for h in run_hours(self.scenario, self.zone)) if profile else 1.0
        while len(out) < self.total:
            t = rng.uniform(0, span)
            if profile is not None:
                hour = self.time(t).astimezone(self.zone).hour
                if rng.random() * top >= profile[hour]:
                    continue
            out.append(t)
        out.sort()
        return out

    def _applicant(self, i: int, rng: random.Random) -> LeadApplicant:
        sc = self.scenario
        tier = _pick(rng, sc.tiers)
        mix = sc.mix
        over = mix.by_tier.get(tier)
        mean, sd = mix.score.get(tier, mix.score.get("*", (600.0, 0.0)))
        score = min(900.0, max(300.0, rng.gauss(mean, sd) if sd else mean))
        regions = (over.regions if over and over.regions else None) or mix.regions
        channels = (over.channels if over and over.channels else None) or mix.channels
        bands = (over.amount_yuan if over and over.amount_yuan else None) or mix.amount_yuan
        return LeadApplicant(
            applicant_ref=f"sim_{i:08d}",
            tier=tier,
            score=round(score),
            age=rng.randint(mix.age[0], mix.age[1]),
            region=_pick(rng, regions),
            requested_amount_fen=_amount(rng, bands),
            term_months=12,
            phone_hash=f"{i:064x}",
            channel=_pick(rng, channels),
            consents=(self.consent,),
        )

    def _lead(self, i: int, t: float, rng: random.Random) -> SimLead:
        applicant = self._applicant(i, rng)
        eligible, _ = prefilter(applicant, self.registry, lambda _pid: False, self.time(t))
        features = dict(lead_features(applicant))
        day = t / DAY
        pings: list[PingResult] = []
        truth: dict[str, Truth] = {}
        for partner in eligible:
            spec = self.specs.get(partner.id)
            if spec is None:
                pings.append(PingResult(partner.id, NO_BID))
                continue
            ping, u = self._ping(spec, partner, applicant.tier, features, day, t, rng)
            pings.append(ping)
            _, _, accept, fund = self.appetite[spec.id].at(applicant.tier, day)
            accept = with_odds(accept, effect(spec.accept_effects, features))
            fund = with_odds(fund, effect(spec.fund_effects, features) * math.exp(spec.fund_bid_link * u))
            delay = spec.fund_delay_hours * 3600 * rng.uniform(0.5, 1.5)
            truth[spec.id] = Truth(accept, fund, spec.decision_ms, rng.random(), rng.random(), delay)
        return SimLead(i, t, applicant, pings, truth)

    def _ping(
        self,
        spec: SimPartner,
        partner: Partner,
        tier: str,
        features: dict[str, str],
        day: float,
        t: float,
        rng: random.Random,
    ) -> tuple[PingResult, float]:
        """The ping answer as the router's ping fan-out would record it, and the bid's position u ∈ [−1, 1]."""
        u = rng.uniform(-1, 1)
        draws = (rng.random(), rng.random(), rng.random())
        latency = spec.latency_ms * lognormal(rng, spec.latency_jitter)
        limit = min(partner.ping_timeout_ms, self.registry.ping_budget_ms)
        if spec.failure in ("hang", "down") or t < spec.down_seconds:
            return PingResult(spec.id, TIMEOUT if spec.failure == "hang" else ERROR, latency_ms=float(limit)), u
        if spec.failure in ("error", "garbage"):
            return PingResult(spec.id, ERROR, latency_ms=latency), u
        if latency > limit:
            return PingResult(spec.id, TIMEOUT, latency_ms=float(limit)), u
        if draws[0] < spec.known_rate:
            return PingResult(spec.id, NO_BID, known=True, latency_ms=latency), u
        bid_rate, mean, _, _ = self.appetite[spec.id].at(tier, day)
        if draws[1] >= bid_rate or mean <= 0:
            return PingResult(spec.id, NO_BID, latency_ms=latency), u
        mean *= effect(spec.bid_effects, features)
        bid = max(1, round(mean * (1 + spec.bid_spread * u)))
        return PingResult(spec.id, BID, bid, latency_ms=latency), u
