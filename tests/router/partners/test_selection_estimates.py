"""The learned estimates behind the planner: pooling, contextual lifts, forgetting, censored outcomes."""

from __future__ import annotations

import random
from dataclasses import replace

from services.router.partners.config import PartnersConfig
from services.router.partners.domain import BID, NOT_PLANNED, Candidate, LeadApplicant, PingResult, rank
from services.router.partners.estimates import DAY, ContextualEstimator, Priors, logit, sigmoid
from services.router.partners.selection import Belief, ChainLimits, plan
from tests.router.partners.helpers import applicant

T0 = 1_767_600_000.0  # seconds since the epoch: any fixed clock


def lead(tier: str = "near_prime", region: str = "CN-31") -> LeadApplicant:
    return replace(applicant(tier), region=region)


def feed(
    est: ContextualEstimator, partner: str, a: LeadApplicant, rate: float, n: int, rng: random.Random, t: float
) -> float:
    """n accepted posts whose funding is reported at once, funded with probability `rate`."""
    for i in range(n):
        lead_id = f"{partner}-{a.tier}-{a.region}-{t}-{i}"
        at = t + i * 60
        est.observe_post(lead_id, partner, a, 3000, accepted=True, at=at)
        est.observe_outcome(lead_id, funded=rng.random() < rate, at=at)
    return t + n * 60


def test_a_new_partner_starts_at_the_market_rate_of_the_tier_and_carries_its_lift_to_other_tiers() -> None:
    est, rng = ContextualEstimator(), random.Random(1)
    t = T0
    for partner in ("a", "b", "c"):
        t = feed(est, partner, lead("near_prime"), 0.6, 300, rng, t)
        t = feed(est, partner, lead("tail"), 0.3, 300, rng, t)
    newcomer = est.belief("new", lead("tail"), 3000, t, None).fund
    assert abs(newcomer - 0.3) < 0.08  # the market's tail rate, not 0.5
    # "strong" funds far above the market in near-prime; never seen in tail, it is expected above it there too
    t = feed(est, "strong", lead("near_prime"), 0.9, 300, rng, t)
    assert est.belief("strong", lead("tail"), 3000, t, None).fund > 0.4


def test_a_feature_that_matters_is_learned_and_one_that_does_not_adds_nothing() -> None:
    est, rng = ContextualEstimator(), random.Random(2)
    t = T0
    for _ in range(6):
        for partner in ("a", "b", "c"):
            t = feed(est, partner, lead(region="CN-31"), 0.7 if partner == "a" else 0.5, 60, rng, t)
            t = feed(est, partner, lead(region="CN-65"), 0.2 if partner == "a" else 0.5, 60, rng, t)
    shanghai = est.belief("a", lead(region="CN-31"), 3000, t, None).fund
    xinjiang = est.belief("a", lead(region="CN-65"), 3000, t, None).fund
    assert shanghai - xinjiang > 0.3
    b31 = est.belief("b", lead(region="CN-31"), 3000, t, None).fund
    b65 = est.belief("b", lead(region="CN-65"), 3000, t, None).fund
    assert abs(b31 - b65) < 0.1
    assert est.fund.tau2.get("age", 0.0) < 0.01  # the age band never mattered


def test_a_collapse_of_appetite_is_noticed_within_a_day_of_traffic() -> None:
    est, rng = ContextualEstimator(), random.Random(3)
    t = feed(est, "p", lead(), 0.7, 1500, rng, T0)  # a long, steady history
    assert est.belief("p", lead(), 3000, t, None).fund > 0.6
    start = t
    t = feed(est, "p", lead(), 0.15, 120, rng, t)  # two hours of traffic after the collapse
    assert t - start < DAY
    assert est.belief("p", lead(), 3000, t, None).fund < 0.35


def test_a_collapse_reported_late_is_dated_at_the_change_and_what_followed_it_is_kept() -> None:
    # One post a minute, each funding outcome reported 8 hours after its post; funding collapses at `change`.
    est, rng = ContextualEstimator(), random.Random(5)
    delay, change = 8 * 3600.0, T0 + 2 * DAY
    reports: list[tuple[float, str, bool]] = []
    t = T0
    while t < change + 16 * 3600:
        while reports and reports[0][0] <= t:
            at, lead_id, funded = reports.pop(0)
            est.observe_outcome(lead_id, funded=funded, at=at)
        lead_id = f"lead-{t}"
        est.observe_post(lead_id, "p", lead(), 3000, accepted=True, at=t)
        reports.append((t + delay, lead_id, rng.random() < (0.7 if t < change else 0.15)))
        t += 60
    dated = est.fund.alarmed["p"]
    assert change - 3600 <= dated <= change + 2 * 3600  # the change, not the alarm 8+ hours later
    # outcomes of the posts made between the change and the alarm count in full: the estimate has moved
    assert est.belief("p", lead(), 3000, t, None).fund < 0.3


def test_pending_funding_is_censored_not_a_failure() -> None:
    est, rng = ContextualEstimator(), random.Random(4)
    t = feed(est, "p", lead(), 0.6, 200, rng, T0)
    before = est.belief("p", lead(), 3000, t, None).fund
    for i in range(100):  # accepted, outcomes not reported yet
        est.observe_post(f"pending-{i}", "p", lead(), 3000, accepted=True, at=t + i)
    assert est.pending_by_partner() == {"p": 100}
    assert abs(est.belief("p", lead(), 3000, t + 200, None).fund - before) < 0.02
    assert est.observe_outcome("pending-0", funded=True, at=t + 300)
    assert not est.observe_outcome("pending-0", funded=True, at=t + 301)  # already counted
    assert not est.observe_outcome("never-posted", funded=False, at=t + 302)


def test_rank_with_a_planner_orders_by_value_if_accepted_and_traces_bidders_left_out() -> None:
    config = PartnersConfig.model_validate(
        {
            "lenders": [
                {"id": p, "endpoint": f"x:{i}", "tiers": ["near_prime"], "annual_cost_rate": 0.1, "allow_listed": True}
                for i, p in enumerate(("choosy", "easy", "poor"), start=1)
            ]
        }
    )
    rates = {"choosy": (0.2, 0.9), "easy": (1.0, 0.5), "poor": (1.0, 0.01)}

    class Known:
        def belief(
            self, partner_id: str, applicant: LeadApplicant, price_fen: int, at: float, rng: random.Random | None
        ) -> Belief:
            return Belief(*rates[partner_id])

    a = lead()
    pings = [PingResult("choosy", BID, 4000), PingResult("easy", BID, 4000), PingResult("poor", BID, 4000)]

    def planner(candidates: list[Candidate]) -> list[Candidate]:
        return plan(a, candidates, Known(), ChainLimits(max_posts=2, post_cost_fen=100), at=T0, rng=None)[0]

    ranked, trace = rank(a, config.by_id(), pings, None, planner=planner)
    # value if accepted: choosy 3600, easy 2000 (poor: 40 < the post cost): choosy first although its
    # expected value (720) is below easy's (2000) — a rejection still leaves easy for the second post
    assert [c.partner_id for c in ranked] == ["choosy", "easy"]
    assert {e.partner_id: e.status for e in trace}["poor"] == NOT_PLANNED


def test_a_partner_left_out_of_the_chains_becomes_uncertain_again_and_is_explored() -> None:
    # "weak" funded little on its first day and has not been posted to since; "steady" keeps being observed.
    # The weak partner's evidence keeps fading while it is unobserved (not only when it is refitted), so its
    # estimate drifts back towards the market's rate and Thompson draws put it above the steady partner more
    # and more often: a partner whose appetite may have changed is probed again.
    est, rng = ContextualEstimator(), random.Random(6)
    t = feed(est, "weak", lead(), 0.15, 40, rng, T0)
    t = feed(est, "steady", lead(), 0.5, 300, rng, t)

    def share_above(at: float) -> float:
        draws = random.Random(7)
        wins = 0
        for _ in range(2000):
            weak = est.belief("weak", lead(), 3000, at, draws).fund
            wins += weak > est.belief("steady", lead(), 3000, at, draws).fund
        return wins / 2000

    shares, means = [share_above(t)], [est.belief("weak", lead(), 3000, t, None).fund]
    for _ in range(6):  # six days of traffic to the steady partner only
        t = feed(est, "steady", lead(), 0.5, 200, rng, t + DAY - 200 * 60)
        shares.append(share_above(t))
        means.append(est.belief("weak", lead(), 3000, t, None).fund)
    # its tier offset keeps the slower pace of the effects, so it drifts back more slowly than a level of its
    # own did (0.21 -> 0.31 in six days, drawn above the steady partner in 5% of draws instead of 13%)
    assert means == sorted(means) and means[-1] - means[0] > 0.08
    assert shares[0] < 0.02 and shares[-1] > 0.04


def test_exploration_lifts_a_partners_draw_and_never_demotes_its_estimate() -> None:
    # Optimistic Thompson sampling: a draw is the posterior mean plus the positive part of the sampled
    # deviation, so the partner the estimates rank best is passed over only for one that might be better.
    est, rng = ContextualEstimator(), random.Random(8)
    t = feed(est, "p", lead(), 0.4, 30, rng, T0)
    mean = est.belief("p", lead(), 3000, t, None).fund
    draws = [est.belief("p", lead(), 3000, t, rng).fund for _ in range(500)]
    assert min(draws) >= mean - 1e-12
    assert sum(d > mean + 0.02 for d in draws) > 100


def _spread_of_draws(est: ContextualEstimator, at: float) -> float:
    draws = random.Random(9)
    mean = est.belief("p", lead(), 3000, at, None).fund
    return sum(est.belief("p", lead(), 3000, at, draws).fund - mean for _ in range(2000)) / 2000


def test_a_steady_partner_is_read_on_its_long_record_as_well_as_its_recent_one() -> None:
    # Six days of steady traffic: the slow level (evidence at the effects' pace) keeps half again the fast
    # level's evidence here, and the mixture of the two explores a steady partner less than the fast level alone.
    mixed, fast_only = ContextualEstimator(), ContextualEstimator(Priors(level_mix=False))
    for est in (mixed, fast_only):
        rng, t = random.Random(10), T0
        for day in range(6):
            t = feed(est, "p", lead(), 0.4, 150, rng, T0 + day * DAY)
    assert abs(mixed.belief("p", lead(), 3000, t, None).fund - 0.4) < 0.06
    assert _spread_of_draws(mixed, t) < 0.93 * _spread_of_draws(fast_only, t)


def test_a_partner_whose_appetite_ramps_up_is_read_on_its_recent_evidence() -> None:
    # Four steady days at 0.2, then funding ramps to 0.7 over a day: the fast level predicts the new outcomes
    # better, so the mixture leans on it and the estimate follows the ramp as the fast level alone does.
    mixed, fast_only = ContextualEstimator(), ContextualEstimator(Priors(level_mix=False))
    for est in (mixed, fast_only):
        rng, t = random.Random(11), T0
        for _ in range(4):
            t = feed(est, "p", lead(), 0.2, 150, rng, t) + DAY - 150 * 60
        for hour in range(30):
            t = feed(est, "p", lead(), 0.2 + 0.5 * min(1.0, hour / 24), 10, rng, t) + 3600 - 600
    assert sigmoid(mixed.fund._log_odds_fast("p", t)) > 0.6
    now = mixed.belief("p", lead(), 3000, t, None).fund
    assert now > 0.5
    assert abs(now - fast_only.belief("p", lead(), 3000, t, None).fund) < 0.06


def late_collapse(priors: Priors, seed: int, *, spread: bool) -> tuple[ContextualEstimator, float, list[float]]:
    """One accepted post a minute; funding reported 4-12 hours after the post (or 8 hours flat without
    `spread`) and collapsing from 0.62 to 0.15 at `change`. Returns the estimator, the change and the clock
    times of its funding alarms."""
    est, rng = ContextualEstimator(priors), random.Random(seed)
    change = T0 + 2 * DAY
    reports: list[tuple[float, str, bool]] = []
    alarms: list[float] = []
    t = T0
    while t < change + 16 * 3600:
        reports.sort()
        while reports and reports[0][0] <= t:
            at, lead_id, funded = reports.pop(0)
            before = est.fund.alarms
            est.observe_outcome(lead_id, funded=funded, at=at)
            if est.fund.alarms > before:
                alarms.append(at)
        lead_id = f"lead-{t}"
        est.observe_post(lead_id, "p", lead(), 3000, accepted=True, at=t)
        delay = rng.uniform(4, 12) * 3600 if spread else 8 * 3600.0
        reports.append((t + delay, lead_id, rng.random() < (0.62 if t < change else 0.15)))
        t += 60
    return est, change, alarms


def test_a_change_is_watched_in_the_order_of_the_posts_so_late_reports_of_old_leads_do_not_hide_it() -> None:
    # Outcomes of leads posted before the collapse keep arriving for up to 12 hours after it, interleaved with
    # the first outcomes of the new appetite. Watched in the order of the reports they pull the CUSUM back
    # to zero; in the order of the posts they sit before the change and the alarm comes with the ~20
    # outcomes of the new appetite it needs.
    first_post_order, first_report_order = [], []
    for seed in range(3):
        _, change, alarms = late_collapse(Priors(), seed, spread=True)
        first_post_order.append(min(a for a in alarms if a > change) - change)
        _, _, alarms = late_collapse(Priors(post_order_cusum=False), seed, spread=True)
        first_report_order.append(min(a for a in alarms if a > change) - change)
    assert max(first_post_order) < 10 * 3600
    assert sum(first_post_order) < sum(first_report_order)


def test_reported_in_the_order_of_the_posts_the_cusum_is_the_usual_recursion() -> None:
    # a flat reporting delay keeps the reports in post order: both ways of watching alarm at the same outcome
    est, change, alarms = late_collapse(Priors(), 7, spread=False)
    _, _, recursion_alarms = late_collapse(Priors(post_order_cusum=False), 7, spread=False)
    after = [a for a in alarms if a > change]
    assert after and after[0] == min(a for a in recursion_alarms if a > change)
    assert abs(est.fund.alarmed["p"] - change) < 2 * 3600


def policy_change(priors: Priors) -> tuple[ContextualEstimator, float, float]:
    """A partner accepts 90% and funds 70% for three days, then accepts 20% and funds 15%; one post a minute,
    verdicts at once, funding reported 12 hours late. Runs until 3 hours after the change."""
    est, rng = ContextualEstimator(priors), random.Random(8)
    change, delay = T0 + 3 * DAY, 12 * 3600.0
    reports: list[tuple[float, str, bool]] = []
    t = T0
    while t < change + 3 * 3600:
        while reports and reports[0][0] <= t:
            at, lead_id, funded = reports.pop(0)
            est.observe_outcome(lead_id, funded=funded, at=at)
        old = t < change
        accepted = rng.random() < (0.9 if old else 0.2)
        lead_id = f"lead-{t}"
        est.observe_post(lead_id, "p", lead(), 3000, accepted=accepted, at=t)
        if accepted:
            reports.append((t + delay, lead_id, rng.random() < (0.7 if old else 0.15)))
        t += 60
    return est, change, t


def test_an_acceptance_alarm_also_forgets_the_funding_evidence_from_before_the_change() -> None:
    # The acceptance alarm dates the change hours before any funding outcome of the new policy is in; the
    # funding estimate stops leaning on the old record (its level is uncertain again) instead of waiting
    # 12 hours and more for its own alarm.
    est, change, t = policy_change(Priors())
    assert abs(est.accept.alarmed["p"] - change) < 3600
    assert est.fund.alarmed.get("p") == est.accept.alarmed["p"]
    alone, _, _ = policy_change(Priors(coupled_alarms=False))
    assert alone.fund.alarmed.get("p", T0) < change  # without the coupling nothing about funding saw it
    assert est.fund.fits["p"].var[0] > 2 * alone.fund.fits["p"].var[0]
    # forgotten, not contradicted: no funding outcome says the rate moved yet
    assert abs(est.belief("p", lead(), 3000, t, None).fund - alone.belief("p", lead(), 3000, t, None).fund) < 0.15


def test_a_rise_in_every_tier_seen_in_one_tier_reaches_the_partners_other_tiers() -> None:
    # "x" funds 0.2 in both tiers for four days; then its funding rises in every tier, and only its near-prime
    # leads are posted for three days. No alarm (the CUSUM is off): the rise is learned by the levels alone.
    # The partner-wide level moves with the near-prime outcomes and carries the rise to the tail, whose own
    # offset from it is still the one the old outcomes showed; per-tier levels alone leave the tail at 0.2.
    moved = []
    for seed in range(4):
        est, rng = ContextualEstimator(Priors(cusum_threshold=1e9)), random.Random(seed)
        t = T0
        for day in range(4):
            for partner in ("a", "b"):
                t = feed(est, partner, lead("near_prime"), 0.55, 100, rng, t)
                t = feed(est, partner, lead("tail"), 0.4, 100, rng, t)
            t = feed(est, "x", lead("near_prime"), 0.2, 25, rng, t)
            t = feed(est, "x", lead("tail"), 0.2, 25, rng, t)
            t = T0 + (day + 1) * DAY
        before = [logit(est.belief("x", lead(tier), 3000, t, None).fund) for tier in ("near_prime", "tail")]
        for day in range(3):
            t = feed(est, "x", lead("near_prime"), 0.5, 40, rng, t)
            t = T0 + (5 + day) * DAY
        after = [logit(est.belief("x", lead(tier), 3000, t, None).fund) for tier in ("near_prime", "tail")]
        moved.append((after[1] - before[1]) / (after[0] - before[0]))  # the tail's share of the rise
    assert min(moved) > 0.25 and sum(moved) / len(moved) > 0.35  # per-tier levels alone: -0.02 to 0.34, mean 0.13
