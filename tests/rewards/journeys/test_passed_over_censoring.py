"""A triggered offer is the campaign's offer too: when it is a customer's first, it censors their visits the
policy passed over, live as a requested offer does, and a restart rebuilds the same counts."""

from __future__ import annotations

from pathlib import Path

from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, Harness
from tests.rewards.helpers import claim, offer, stub
from tests.rewards.journeys.helpers import ingest, journeys_service, reached

# A budget of one coupon: once customer 1 claims it, other visits find it exhausted and are passed over.
CONFIG = """
timezone: Asia/Shanghai
scenes: [mall]
contact: {per_day: 3, per_week: 5}
policy: {exploration: 0.0, prior_alpha: 50, prior_beta: 50, baseline_prior_alpha: 1, baseline_prior_beta: 99}
journey_pass_seconds: 0
campaigns:
  - id: payroll
    scenes: [mall]
    start: 2026-01-01T00:00:00+08:00
    end: 2026-03-01T00:00:00+08:00
    budget: {total_fen: 1000, daily_fen: 1000}
    arms: [{id: m100-10, threshold_fen: 10000, discount_fen: 1000, validity_days: 7}]
    holdout_share: 0.0
    claims_per_customer: 5
    conversion_value_fen: 10000
triggers:
  - id: payroll-touch
    campaign: payroll
    event: outside.payroll_credited
    validity_hours: 72
"""


def _passed(h: Harness) -> dict[str, tuple[int, int, dict[int, int]]]:
    """segment → (passed-over visits, of them paid, censored visits by whole hours of age) for 'payroll'."""
    posteriors = h.app.runtime.campaign(h.app.config.model, "payroll").posteriors
    return {s: (u.trials, u.successes, dict(u.censored)) for s, u in posteriors.untreated.items()}


async def test_a_triggered_first_offer_censors_passed_over_visits_live_and_at_a_restart(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with journeys_service(db_target, tmp_path, CONFIG) as h:
        s = stub(h)
        first = await offer(s, 1)
        assert first.outcome == rewards_pb2.OFFERED
        await claim(s, 1, first.offer_id)
        passed = await offer(s, 2)
        assert (passed.outcome, passed.reason) == (rewards_pb2.NOT_OFFERED, "BUDGET_EXHAUSTED")
        assert _passed(h) == {passed.segment: (1, 0, {})}
        h.clock.advance(hours=3)
        await ingest(h, "payroll-2", "cust-hash-2", "payroll_credited")
        await reached(h, "payroll-touch", "cust-hash-2", "TOUCHED")  # due at once: touched with the entry
        live = _passed(h)
        assert live == {passed.segment: (1, 0, {3: 1})}
    async with journeys_service(db_target, tmp_path, CONFIG) as restarted:
        assert _passed(restarted) == live
