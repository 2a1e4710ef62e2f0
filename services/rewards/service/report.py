"""GetCampaignReport: spend against the budget, the funnel per arm × segment, and uplift of the treated
group over the holdout (intent-to-treat, with 95% intervals: services/rewards/domain/uplift.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.clock import Clock
from services.common.db import Database
from services.common.errors import NotFound
from services.rewards.config import Trigger
from services.rewards.domain import contact, holdout, journey, journey_funnel, uplift
from services.rewards.runtime import ConfigView, PolicyRuntime
from services.rewards.service.wire import money
from services.rewards.store import budget, fates, journeys, reports
from skylane.rewards.v1 import rewards_pb2


def _interval(e: uplift.Estimate) -> rewards_pb2.Interval:
    return rewards_pb2.Interval(estimate=e.point, low=e.low, high=e.high, defined=e.defined)


def _group(g: uplift.GroupStats) -> rewards_pb2.GroupOutcome:
    return rewards_pb2.GroupOutcome(
        customers=g.customers, payment_active=g.active, payment_active_rate=g.rate, value_per_customer_fen=g.mean_value
    )


def _uplift(groups: dict[str, uplift.GroupStats]) -> rewards_pb2.Uplift:
    t, c = groups[holdout.TREATMENT], groups[holdout.HOLDOUT]
    return rewards_pb2.Uplift(
        treated=_group(t),
        holdout=_group(c),
        active_rate_ratio=_interval(uplift.rate_ratio(t, c)),
        active_rate_difference=_interval(uplift.rate_difference(t, c)),
        value_ratio=_interval(uplift.value_ratio(t, c)),
        value_difference_fen=_interval(uplift.value_difference(t, c)),
    )


async def _contact_fates(session: AsyncSession, campaign_id: str) -> list[rewards_pb2.ContactFate]:
    """Every touch of the campaign by fate: requested offers shown or refused by the contact policy (from
    the decisions), fallback waves touched or deferred (from their fates)."""
    requested: dict[tuple[str, str], int] = {}
    for outcome, reason, n in await reports.requested_fates(session, campaign_id):
        fate = ("TOUCHED", "") if outcome == "OFFERED" else ("REFUSED", str(reason))
        requested[fate] = requested.get(fate, 0) + int(n)
    rows = [rewards_pb2.ContactFate(source="REQUESTED", fate=f, reason=r, count=n) for (f, r), n in requested.items()]
    rows.extend(
        rewards_pb2.ContactFate(source=str(s), fate=str(f), reason=str(r), count=int(n), deferrals=int(d or 0))
        for s, f, r, n, d in await fates.counts(session, campaign_id)
    )
    return sorted(rows, key=lambda x: (x.source, x.fate, x.reason))


def _steps(s: journey_funnel.Steps) -> rewards_pb2.JourneySteps:
    return rewards_pb2.JourneySteps(
        reached=s.reached,
        touched=s.touched,
        claimed=s.claimed,
        redeemed=s.redeemed,
        next_product=s.next_product,
        converted=s.converted,
    )


async def _journey(session: AsyncSession, view: ConfigView, trigger: Trigger) -> rewards_pb2.JourneyFunnel:
    """One trigger's funnel from its steps and what became of its offers."""
    rows = [
        journey_funnel.StepRow(str(c), int(e), str(s), at, str(d))
        for c, e, s, at, d in await journeys.steps_of(session, trigger.id)
    ]
    ids = [journey_funnel.decision_of(r.detail) for r in rows if r.step == journey.TOUCHED]
    wave2 = [t.id for t in view.cfg.triggers if t.wave == journey.NEXT_PRODUCT_WAVE]
    f = journey_funnel.funnel(
        rows,
        await journeys.groups_of(session, trigger.id),
        await journeys.coupon_times(session, ids),
        await journeys.converted_of(session, trigger.id, trigger.campaign),
        await journeys.first_touches(session, wave2),
    )
    counted = f.counted
    return rewards_pb2.JourneyFunnel(
        trigger_id=trigger.id,
        wave=trigger.wave,
        treated=_steps(f.treated),
        holdout=_steps(f.holdout),
        screened=counted[journey.SCREENED],
        reentry_blocked=counted[journey.REENTRY_BLOCKED],
        exited=counted[journey.EXITED],
        deferred=counted[journey.DEFERRED],
        routed=counted[journey.ROUTED],
        follow_up=counted[journey.FOLLOW_UP],
        converted_rate_difference=_interval(f.converted_difference),
        median_hours_to_touch=f.hours_to_touch,
        median_hours_touch_to_claim=f.hours_touch_to_claim,
        median_hours_claim_to_redeem=f.hours_claim_to_redeem,
    )


class GetCampaignReport:
    def __init__(self, db: Database, runtime: PolicyRuntime, clock: Clock) -> None:
        self.db, self.runtime, self.clock = db, runtime, clock

    async def __call__(self, campaign_id: str, view: ConfigView) -> rewards_pb2.CampaignReport:
        campaign = view.campaigns.get(campaign_id)
        if campaign is None:
            raise NotFound("campaign", campaign_id)
        day = contact.day_key(self.clock.now(), view.tz)
        funnel: dict[tuple[str, str], rewards_pb2.FunnelRow] = {}
        groups = {g: uplift.GroupStats(0, 0, 0.0, 0.0) for g in (holdout.HOLDOUT, holdout.TREATMENT)}
        async with self.db.report() as session:
            committed = await budget.committed(session, campaign.id, day)
            for arm, seg, n, claims in await reports.offers_and_claims(session, campaign.id):
                funnel[(arm, seg)] = rewards_pb2.FunnelRow(
                    arm_id=arm, segment=seg, offers=int(n), claims=int(claims or 0)
                )
            for arm, seg, n, gmv, disc in await reports.redemptions(session, campaign.id):
                row = funnel.setdefault((arm, seg), rewards_pb2.FunnelRow(arm_id=arm, segment=seg))
                row.redemptions = int(n)
                row.gmv.fen = int(gmv or 0)
                row.spend.fen = int(disc or 0)
            for grp, n, active, value, sq in await reports.groups(session, campaign.id):
                groups[str(grp)] = uplift.GroupStats(int(n), int(active or 0), float(value or 0), float(sq or 0))
            contact_fates = await _contact_fates(session, campaign.id)
            funnels = [await _journey(session, view, t) for t in view.cfg.triggers if t.campaign == campaign.id]
        report = rewards_pb2.CampaignReport(
            campaign_id=campaign.id,
            budget_total=money(campaign.budget.total_fen),
            budget_daily=money(campaign.budget.daily_fen),
            spent=money(committed.spent_fen),
            reserved=money(committed.reserved_fen),
            today_committed=money(committed.today_fen),
            funnel=[funnel[k] for k in sorted(funnel)],
            uplift=_uplift(groups),
            config_version=view.version,
            contact_fates=contact_fates,
            journeys=funnels,
        )
        setattr(report, "lambda", self.runtime.campaign(view.cfg, campaign.id).pacer.lam)
        return report
