"""Offer: which coupon arm, if any, to show one customer now — recorded as a decision either way.

The rules run in the documented order: the holdout first (recorded on first sight, never treated; it
teaches the policy the no-coupon baseline), then opt-out, quiet hours and the contact caps across all
campaigns, eligibility and the claims per customer, then the policy's arm within what is left of the
budget. Showing an arm is a touch, counted atomically against both caps. Statements: one snapshot
upsert (it also reads the customer's offer history in the campaign), the touch (only when an arm is
chosen), the read of the visits a first offer censors (only then, and only when there are any) and the
decision. The decision is counted by outcome
(telemetry.py) once the call has committed.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.clock import Clock
from services.common.errors import FailedPrecondition, NotFound
from services.common.replica_share import TrafficShare
from services.rewards.config import Campaign
from services.rewards.domain import contact, holdout
from services.rewards.domain.budget import pacing_horizon
from services.rewards.domain.policy import BASELINE, Choice, choose, share_left
from services.rewards.domain.profile import Profile, segment_of, unmet
from services.rewards.runtime import CampaignPolicy, ConfigView, PolicyRuntime, campaign_active
from services.rewards.service import budget, learning, peer_events
from services.rewards.service.telemetry import RewardsTelemetry
from services.rewards.service.unit import Learned, WriteCalls
from services.rewards.service.wire import arm_pb, profile_of, timestamp
from services.rewards.store import assignments, contacts, decisions
from services.rewards.store.assignments import OfferSnapshot
from skylane.rewards.v1 import rewards_pb2


def pick_campaign(view: ConfigView, request: rewards_pb2.OfferRequest, now: datetime) -> Campaign | None:
    """The campaign asked for, or the first active one of the scene that runs at the merchant; None when
    nothing runs now. Asking for a campaign that is not in the scene is refused."""
    if request.campaign_id:
        campaign = view.campaigns.get(request.campaign_id)
        if campaign is None:
            raise NotFound("campaign", request.campaign_id)
        if request.scene not in campaign.scenes:
            raise FailedPrecondition(
                "SCENE_NOT_IN_CAMPAIGN",
                f"campaign {campaign.id} runs in {campaign.scenes}, not {request.scene!r}",
                subject=f"campaign/{campaign.id}",
            )
        return campaign if campaign_active(campaign, now) else None
    for cid in view.in_scene.get(request.scene, []):
        c = view.campaigns[cid]
        if campaign_active(c, now) and (
            not request.merchant_id or not c.merchants or request.merchant_id in c.merchants
        ):
            return c
    return None


Report = Callable[[str, str, str], None]  # (campaign, outcome, reason) of a decision, inside its unit of work


def _not_reported(campaign: str, outcome: str, reason: str) -> None:
    return None


class Offer:
    def __init__(
        self,
        calls: WriteCalls,
        runtime: PolicyRuntime,
        clock: Clock,
        dialect: str,
        telemetry: RewardsTelemetry | None = None,
    ) -> None:
        self.calls, self.runtime, self.clock, self.dialect = calls, runtime, clock, dialect
        self.report: Report = telemetry.offer_decided if telemetry is not None else _not_reported

    async def __call__(self, request: rewards_pb2.OfferRequest, view: ConfigView) -> rewards_pb2.OfferResponse:
        now = self.clock.now()
        campaign = pick_campaign(view, request, now)

        async def step(conn: AsyncConnection, learned: Learned) -> rewards_pb2.OfferResponse:
            if campaign is None:
                return rewards_pb2.OfferResponse(
                    outcome=rewards_pb2.NOT_OFFERED, reason="NO_ACTIVE_CAMPAIGN", config_version=view.version
                )
            policy = self.runtime.campaign(view.cfg, campaign.id)
            return await _Decision(
                conn,
                self.dialect,
                view,
                campaign,
                policy,
                self.runtime.rng,
                request,
                now,
                learned,
                self.report,
                self.runtime.traffic,
            ).make()

        return await self.calls.run("RewardsService.Offer", request, rewards_pb2.OfferResponse, step)


@dataclass
class _Decision:
    """One Offer inside its unit of work: the rules as named steps over one response being built."""

    conn: AsyncConnection
    dialect: str
    view: ConfigView
    campaign: Campaign
    policy: CampaignPolicy
    rng: random.Random
    request: rewards_pb2.OfferRequest
    now: datetime
    learned: Learned
    report: Report
    traffic: TrafficShare  # this replica's share of the offers: the part of the shared budget it paces
    customer: str = field(init=False)
    profile: Profile = field(init=False)
    segment: str = field(init=False)
    day: str = field(init=False)  # the campaign's local day (daily budget)
    contact_day: str = field(init=False)  # the customer's local day (contact caps)
    window_start: datetime = field(init=False)  # the baseline window's start (passed-over visits)
    response: rewards_pb2.OfferResponse = field(init=False)

    def __post_init__(self) -> None:
        self.customer = self.request.customer.ref
        self.profile = profile_of(self.request.profile)
        self.segment = segment_of(self.view.cfg.segments, self.profile)
        self.day = self.contact_day = contact.day_key(self.now, self.view.tz)
        self.window_start = self.view.params.baseline_window_start(self.now)
        self.response = rewards_pb2.OfferResponse(
            offer_id=uuid.uuid4().hex,
            campaign_id=self.campaign.id,
            segment=self.segment,
            config_version=self.view.version,
        )

    async def make(self) -> rewards_pb2.OfferResponse:
        campaign = self.campaign
        if peer_events.uses_inputs(self.view):
            await self._peer_inputs()
        snap = await assignments.offer_snapshot(
            self.conn,
            self.dialect,
            campaign.id,
            self.customer,
            holdout.assign(campaign.id, self.customer, campaign.holdout_share),
            self.now,
            self.day,
            self.window_start,
        )
        if snap.grp == holdout.HOLDOUT:
            learning.trial(self.learned, self.policy.posteriors, self.segment, BASELINE)
            return await self._record(rewards_pb2.HOLDOUT, "HOLDOUT")
        self.traffic.note()
        refused = self._refusal(snap)
        if refused:
            return await self._record(rewards_pb2.NOT_OFFERED, refused)
        # The pacer forecasts spend per arrival it may offer to: a visit the caps or the campaign's rules
        # refuse spends nothing whatever λ is, and counted as an arrival it would hold λ too high.
        self.policy.pacer.arrive(self.now, self.segment)
        choice = self._choose(snap)
        if not choice.arm:
            if self.view.params.passed_over and choice.reason in decisions.PASSED_OVER and not snap.offered:
                # A visit passed over teaches the no-coupon response while the campaign never offered this
                # customer a coupon (one offered earlier may hold it): domain/policy.py, Untreated.
                learning.passed(self.learned, self.policy.posteriors, self.segment)
            return await self._record(rewards_pb2.NOT_OFFERED, choice.reason, propensity=choice.propensity)
        return await self._show(choice, snap)

    async def _censor_passes(self, snap: OfferSnapshot) -> None:
        """The campaign's first offer to this customer ends the windows of their passed-over visits that
        have not paid: a payment from now on may be the coupon's doing. Read only when the snapshot found
        such visits and no earlier offer."""
        if not self.view.params.passed_over or snap.offered or not snap.open_passes:
            return
        posteriors, campaign_id = self.policy.posteriors, self.campaign.id
        await learning.censor_passes(
            self.conn, self.learned, posteriors, campaign_id, self.customer, self.window_start, self.now
        )

    async def _peer_inputs(self) -> None:
        """The growth level and the router's verdict kept from the peers' events, for the rules that use them."""
        self.profile = await peer_events.with_inputs(self.conn, self.customer, self.profile)
        self.segment = self.response.segment = segment_of(self.view.cfg.segments, self.profile)

    def _refusal(self, snap: OfferSnapshot) -> str | None:
        """Why no arm may be offered, in the documented order: contact policy, eligibility, claims."""
        tz = contact.zone_of(snap.zone, self.view.tz)
        self.contact_day = contact.day_key(self.now, tz)
        refused = contact.refusal(
            snap.contact(self.contact_day),
            self.view.cfg.contact,
            self.now,
            tz,
            opted_out_by_ops=self.customer in self.view.opt_out,
        )
        if refused:
            return refused
        failed = unmet(self.campaign.eligibility, self.profile)
        if failed:
            self.response.unmet_conditions.extend(failed)
            return "NOT_ELIGIBLE"
        if snap.claims >= self.campaign.claims_per_customer:
            return "CLAIM_LIMIT"
        return None

    def _choose(self, snap: OfferSnapshot) -> Choice:
        """The policy's arm within what is left of the budget, with the scores behind it in the response."""
        view, campaign, policy, now = self.view, self.campaign, self.policy, self.now
        left = budget.left_for_offer(campaign, snap.budget)
        arms, values = view.arms[campaign.id], view.values[campaign.id]
        if policy.pacer.due(now):
            # The pacer counts this replica's arrivals only, so it plans with this replica's share of what
            # the replicas have left together.
            seconds_left, seconds_left_today = pacing_horizon(campaign.end, now, view.tz)
            policy.pacer.update(
                now,
                policy.posteriors,
                arms,
                values,
                self.traffic.of(left.total_fen),
                seconds_left,
                self.traffic.of(left.today_fen),
                seconds_left_today,
                view.params,
                share_left(campaign.start, campaign.end, now),
            )
        choice = choose(
            policy.posteriors,
            self.segment,
            arms,
            values[self.segment],
            policy.pacer.lam,
            self.rng,
            view.params,
            left.claimable_fen,
            policy.propensities,
            policy.pacer.left,
        )
        response = self.response
        response.propensity, response.baseline_response = choice.propensity, choice.baseline
        setattr(response, "lambda", policy.pacer.lam)
        response.scores.extend(
            rewards_pb2.ArmScore(
                arm_id=e.arm,
                response=e.response,
                incremental_value_fen=e.incremental_value,
                expected_cost_fen=e.expected_cost,
                score=e.score,
            )
            for e in choice.estimates
        )
        return choice

    async def _show(self, choice: Choice, snap: OfferSnapshot) -> rewards_pb2.OfferResponse:
        """The offer is shown: a touch, counted atomically against both caps (the snapshot may be stale)."""
        refused = await contacts.take_touch(
            self.conn, self.dialect, self.customer, self.contact_day, self.view.cfg.contact
        )
        if refused:
            return await self._record(rewards_pb2.NOT_OFFERED, refused)
        arm = self.campaign.arm(choice.arm)
        assert arm is not None
        await self._censor_passes(snap)
        self.response.arm.CopyFrom(arm_pb(arm))
        learning.trial(self.learned, self.policy.posteriors, self.segment, arm.id)
        return await self._record(rewards_pb2.OFFERED, choice.reason, arm.id, choice.propensity)

    async def _record(
        self, outcome: rewards_pb2.OfferOutcome, reason: str, arm: str = "", propensity: float = 1.0
    ) -> rewards_pb2.OfferResponse:
        response, campaign, now = self.response, self.campaign, self.now
        response.outcome, response.reason = outcome, reason
        self.report(campaign.id, rewards_pb2.OfferOutcome.Name(outcome), reason)
        claim_by = now + timedelta(hours=campaign.offer_ttl_hours) if arm else None
        if claim_by is not None:
            response.claim_by.CopyFrom(timestamp(claim_by))
        await decisions.insert_decision(
            self.conn,
            {
                "id": response.offer_id,
                "campaign_id": campaign.id,
                "customer_ref": self.customer,
                "decided_at": now,
                "outcome": rewards_pb2.OfferOutcome.Name(outcome),
                "reason": reason,
                "segment": self.segment,
                "arm_id": arm,
                "propensity": propensity,
                "lam": self.policy.pacer.lam,
                "config_version": self.view.version,
                "claim_by": claim_by,
                "claimed": False,
                "converted": False,
                "wave": 0,
                **decisions.offered_terms(self.campaign.arm(arm) if arm else None),
            },
        )
        return response
