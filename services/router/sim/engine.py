"""`skylane router simulate --scenario FILE`: how much a lead is worth under each selection policy.

N applicants go through the router's real partner code — eligibility and consent (`prefilter`), ranking
(`rank` with the live Thompson scorer or the static waterfall), post-and-fallback order, and learning from
post verdicts and funding outcomes (`EstimateBook` + `outcomes.learning`) — against simulated partners
whose true rates come from the scenario file and are hidden from the learned policy. Partner calls are
simulated in-process (same bid model as `skylane partner-sim`) so a run of thousands takes seconds.

Every policy sees the same applicants, the same bids and the same coin flips for acceptance and funding
(common random numbers), so the differences are the policies', not the dice's. A lead is worth its price
when the partner that accepted it funds the loan (the value the router's ranking maximises).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from services.common.hashing import stable_unit
from services.router.partners import outcomes
from services.router.partners.config import PartnersConfig
from services.router.partners.domain import (
    BID,
    ERROR,
    NO_BID,
    TIMEOUT,
    Consent,
    EstimateBook,
    LeadApplicant,
    PingResult,
    Scorer,
    prefilter,
    rank,
    thompson_scorer,
    waterfall_scorer,
)
from services.router.partners.scenario import Scenario, SimPartner, rate_for, sim_ping

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@dataclass
class PolicyResult:
    name: str
    leads: int = 0
    sold: int = 0
    funded: int = 0
    value_fen: int = 0

    @property
    def value_per_lead(self) -> float:
        return self.value_fen / self.leads if self.leads else 0.0


def _applicant(i: int, scenario: Scenario, registry: PartnersConfig, rng: random.Random) -> LeadApplicant:
    tiers, weights = zip(*scenario.tiers.items(), strict=True)
    tier = rng.choices(tiers, weights=weights)[0]
    classes = frozenset(p.partner_class for p in registry.lenders)
    consent = Consent(frozenset(), classes, frozenset({registry.consent_purpose}), NOW)
    return LeadApplicant(
        applicant_ref=f"sim_{i:08d}",
        tier=tier,
        score=600,
        age=rng.randint(22, 55),
        region="CN-31",
        requested_amount_fen=rng.randrange(500_000, 5_000_001, 100_000),
        term_months=12,
        phone_hash=f"{i:064x}",
        channel="simulation",
        consents=(consent,),
    )


def _ping(spec: SimPartner | None, partner_id: str, tier: str, rng: random.Random) -> PingResult:
    if spec is None:
        return PingResult(partner_id, NO_BID)
    if spec.failure in ("hang", "down"):
        return PingResult(partner_id, TIMEOUT, latency_ms=500.0)
    if spec.failure in ("error", "garbage"):
        return PingResult(partner_id, ERROR, latency_ms=spec.latency_ms)
    offered, bid, known = sim_ping(spec, tier, rng)
    return PingResult(partner_id, BID if offered else NO_BID, bid, known=known, latency_ms=spec.latency_ms)


def simulate(
    scenario: Scenario,
    registry: PartnersConfig,
    *,
    applicants: int | None = None,
    seed: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[PolicyResult]:
    seed = scenario.seed if seed is None else seed
    total = applicants or scenario.applicants
    rng = random.Random(seed)
    specs = {p.id: p for p in scenario.partners}
    partners = registry.by_id()
    learned_book = EstimateBook()
    thompson_rng = random.Random(seed + 1)

    def oracle(pid: str, tier: str, price: int) -> float:
        spec = specs.get(pid)
        if spec is None:
            return 0.0
        return price * rate_for(spec.accept_rate, tier) * rate_for(spec.fund_rate, tier)

    def highest_bid(pid: str, tier: str, price: int) -> float:
        return float(price)

    def waterfall(tier: str) -> Scorer:
        return waterfall_scorer(registry.waterfall.get(tier, []))

    configured = "waterfall" if registry.policy == "waterfall" else "thompson"
    policies: list[tuple[str, Callable[[str], Scorer], bool]] = [
        (
            f"configured ({configured})",
            (lambda t: waterfall(t))
            if configured == "waterfall"
            else (lambda t: thompson_scorer(learned_book, thompson_rng)),
            configured == "thompson",
        ),
        ("static waterfall", waterfall, False),
        ("highest bid wins", lambda t: highest_bid, False),
        ("oracle (true rates)", lambda t: oracle, False),
    ]
    results = [PolicyResult(name) for name, _, _ in policies]
    for i in range(total):
        applicant = _applicant(i, scenario, registry, rng)
        eligible, _ = prefilter(applicant, registry, lambda _pid: False, NOW)
        pings = [_ping(specs.get(p.id), p.id, applicant.tier, rng) for p in eligible]
        for (_, scorer_for, learns), result in zip(policies, results, strict=True):
            ranked, _ = rank(applicant, partners, pings, scorer_for(applicant.tier))
            result.leads += 1
            for candidate in ranked:  # post, and on rejection offer to the next bidder
                spec = specs.get(candidate.partner_id)
                accept = spec is not None and (
                    stable_unit(str(seed), str(i), candidate.partner_id, "accept")
                    < rate_for(spec.accept_rate, applicant.tier)
                )
                if learns:
                    learned_book.add(
                        candidate.partner_id, applicant.tier, accept_s=int(accept), accept_f=int(not accept)
                    )
                if not accept or spec is None:
                    continue
                funded = stable_unit(str(seed), str(i), candidate.partner_id, "fund") < rate_for(
                    spec.fund_rate, applicant.tier
                )
                if learns:
                    change = outcomes.learning(0, outcomes.FUNDED if funded else outcomes.REJECTED)
                    learned_book.add(candidate.partner_id, applicant.tier, fund_s=change.fund_s, fund_f=change.fund_f)
                result.sold += 1
                result.funded += int(funded)
                result.value_fen += candidate.price_fen if funded else 0
                break
        if on_progress is not None:
            on_progress(1)
    return results
