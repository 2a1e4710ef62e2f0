"""gRPC servicer of skylane.rewards.v1: validates, runs each call as one unit of work, maps proto ⇄ domain."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.common.errors import FailedPrecondition, NotFound, PermissionDenied, QuotaExceeded, Violations
from services.common.validation import check_customer_ref, check_idempotency_key
from services.rewards import store
from services.rewards.config import Arm, Campaign, RewardsConfig
from services.rewards.domain import contact, holdout
from services.rewards.domain.policy import BASELINE, choose
from services.rewards.domain.profile import Profile, segment_of, unmet
from services.rewards.models import Coupon, Decision, Payment, Redemption
from services.rewards.reports import campaign_report
from services.rewards.runtime import arm_specs, campaign_active
from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc

if TYPE_CHECKING:
    from services.rewards.app import RewardsApp

_ORDER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_OFFER_ID = re.compile(r"^[a-f0-9]{32}$")

CLAIMED, REDEEMED, EXPIRED = "CLAIMED", "REDEEMED", "EXPIRED"
_STATE = {CLAIMED: rewards_pb2.CLAIMED, REDEEMED: rewards_pb2.REDEEMED, EXPIRED: rewards_pb2.EXPIRED}


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def _money(fen: int) -> types_pb2.Money:
    return types_pb2.Money(fen=fen)


def arm_pb(arm: Arm) -> rewards_pb2.Arm:
    return rewards_pb2.Arm(
        id=arm.id,
        threshold=_money(arm.threshold_fen),
        discount=_money(arm.discount_fen),
        validity_days=arm.validity_days,
    )


def coupon_pb(c: Coupon) -> rewards_pb2.Coupon:
    return rewards_pb2.Coupon(
        coupon_id=c.id,
        campaign_id=c.campaign_id,
        customer=types_pb2.CustomerRef(ref=c.customer_ref),
        arm=rewards_pb2.Arm(
            id=c.arm_id,
            threshold=_money(c.threshold_fen),
            discount=_money(c.discount_fen),
            validity_days=c.validity_days,
        ),
        state=_STATE[c.state],
        claimed_at=_ts(c.claimed_at),
        valid_until=_ts(c.valid_until),
        offer_id=c.decision_id,
    )


def profile_of(p: rewards_pb2.CustomerProfile) -> Profile:
    return Profile(
        asset_tier=p.asset_tier,
        age=p.age,
        payment_interests=frozenset(p.payment_interests),
        channel=p.channel,
        monthly_payment_count=p.monthly_payment_count,
        monthly_payment_fen=p.monthly_payment_amount.fen,
    )


def _check_order_id(v: Violations, value: str, path: str) -> None:
    if not value:
        v.add(path, "required")
    elif not _ORDER_ID.match(value):
        v.add(path, "must be 1-128 characters of letters, digits, '_', '.', ':' or '-'")


def campaigns_in_scene(cfg: RewardsConfig, scene: str) -> list[str]:
    return [c.id for c in cfg.campaigns if scene in c.scenes]


class RewardsServicer(rewards_pb2_grpc.RewardsServiceServicer):
    def __init__(self, app: RewardsApp) -> None:
        self.app = app

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.app.config.model.timezone)

    # ---------------------------------------------------------------- Offer
    async def Offer(
        self, request: rewards_pb2.OfferRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.OfferResponse:
        cfg = self.app.config.model
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        if not request.scene:
            v.add("scene", "required")
        elif request.scene not in cfg.scenes:
            v.add("scene", f"unknown scene; one of {cfg.scenes}")
        p = request.profile
        v.check(p.age >= 0, "profile.age", "must not be negative")
        v.check(p.monthly_payment_count >= 0, "profile.monthly_payment_count", "must not be negative")
        v.check(p.monthly_payment_amount.fen >= 0, "profile.monthly_payment_amount.fen", "must not be negative")
        v.raise_if_any()
        campaign = self._pick_campaign(cfg, request)
        version = self.app.config.current.version
        async with self.app.db.transaction() as session:

            async def handler() -> rewards_pb2.OfferResponse:
                if campaign is None:
                    return rewards_pb2.OfferResponse(
                        outcome=rewards_pb2.NOT_OFFERED, reason="NO_ACTIVE_CAMPAIGN", config_version=version
                    )
                return await self._offer(session, cfg, version, campaign, request)

            return await self.app.idempotency.run(
                session, "RewardsService.Offer", request, rewards_pb2.OfferResponse, handler
            )

    def _pick_campaign(self, cfg: RewardsConfig, request: rewards_pb2.OfferRequest) -> Campaign | None:
        now = self.app.clock.now()
        if request.campaign_id:
            campaign = cfg.campaign(request.campaign_id)
            if campaign is None:
                raise NotFound("campaign", request.campaign_id)
            if request.scene not in campaign.scenes:
                raise FailedPrecondition(
                    "SCENE_NOT_IN_CAMPAIGN",
                    f"campaign {campaign.id} runs in {campaign.scenes}, not {request.scene!r}",
                    subject=f"campaign/{campaign.id}",
                )
            return campaign if campaign_active(campaign, now) else None
        for c in cfg.campaigns:
            if (
                request.scene in c.scenes
                and campaign_active(c, now)
                and (not request.merchant_id or not c.merchants or request.merchant_id in c.merchants)
            ):
                return c
        return None

    async def _offer(
        self,
        session: AsyncSession,
        cfg: RewardsConfig,
        version: str,
        campaign: Campaign,
        request: rewards_pb2.OfferRequest,
    ) -> rewards_pb2.OfferResponse:
        app, now, tz = self.app, self.app.clock.now(), self.tz
        dialect = app.db.dialect
        customer = request.customer.ref
        profile = profile_of(request.profile)
        segment = segment_of(cfg.segments, profile)
        state = app.runtime.campaign(cfg, campaign.id)
        day, week = contact.day_key(now, tz), contact.week_key(now, tz)
        response = rewards_pb2.OfferResponse(
            offer_id=uuid.uuid4().hex, campaign_id=campaign.id, segment=segment, config_version=version
        )

        async def record(
            outcome: int, reason: str, arm: str = "", propensity: float = 1.0
        ) -> rewards_pb2.OfferResponse:
            response.outcome, response.reason = outcome, reason  # type: ignore[assignment]
            claim_by = now + timedelta(hours=campaign.offer_ttl_hours) if arm else None
            if claim_by is not None:
                response.claim_by.CopyFrom(_ts(claim_by))
            session.add(
                Decision(
                    id=response.offer_id,
                    campaign_id=campaign.id,
                    customer_ref=customer,
                    decided_at=now,
                    outcome=rewards_pb2.OfferOutcome.Name(outcome),
                    reason=reason,
                    segment=segment,
                    arm_id=arm,
                    propensity=propensity,
                    lam=state.pacer.lam,
                    config_version=version,
                    claim_by=claim_by,
                    claimed=False,
                    converted=False,
                    wave=0,
                )
            )
            await session.flush()
            return response

        # 1. Holdout: recorded on first sight, never treated; it teaches the baseline response.
        grp, claims = await store.ensure_assignment(
            session, dialect, campaign.id, customer, holdout.assign(campaign.id, customer, campaign.holdout_share), now
        )
        if grp == holdout.HOLDOUT:
            state.posteriors.record_trial(segment, BASELINE)
            return await record(rewards_pb2.HOLDOUT, "HOLDOUT")
        state.pacer.arrive(now, segment)
        # 2. Opt-out, quiet hours and contact caps (across all campaigns).
        policy = cfg.contact
        await store.ensure_contact(session, dialect, customer)
        cs = await store.contact_state(session, customer, day, week)
        if cs.opted_out or customer in policy.opt_out:
            return await record(rewards_pb2.NOT_OFFERED, "OPTED_OUT")
        if contact.in_quiet_hours(now, tz, policy.quiet_hours):
            return await record(rewards_pb2.NOT_OFFERED, "QUIET_HOURS")
        if cs.day_count >= policy.per_day:
            return await record(rewards_pb2.NOT_OFFERED, "CONTACT_CAP_DAY")
        if cs.week_count >= policy.per_week:
            return await record(rewards_pb2.NOT_OFFERED, "CONTACT_CAP_WEEK")
        # 3. Eligibility and claims per customer.
        failed = unmet(campaign.eligibility, profile)
        if failed:
            response.unmet_conditions.extend(failed)
            return await record(rewards_pb2.NOT_OFFERED, "NOT_ELIGIBLE")
        if claims >= campaign.claims_per_customer:
            return await record(rewards_pb2.NOT_OFFERED, "CLAIM_LIMIT")
        # 4. Budget (advisory here; Claim reserves atomically).
        reserved, spent, today = await store.budget_committed(session, campaign.id, day)
        total_left = campaign.budget.total_fen - reserved - spent
        today_left = campaign.budget.daily_fen - today
        left = min(total_left, today_left)
        # 5. The arm.
        arms = arm_specs(campaign)
        values = app.segment_values(cfg, campaign)
        params = app.runtime.params(cfg)
        if state.pacer.due(now):
            end_of_day = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), datetime.min.time(), tz)
            state.pacer.update(
                now,
                state.posteriors,
                arms,
                values,
                total_left,
                (campaign.end - now).total_seconds(),
                today_left,
                (end_of_day - now).total_seconds(),
                params,
            )
        choice = choose(
            state.posteriors, segment, arms, values[segment], state.pacer.lam, app.runtime.rng, params, left
        )
        response.propensity, response.baseline_response = choice.propensity, choice.baseline
        setattr(response, "lambda", state.pacer.lam)
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
        if not choice.arm:
            return await record(rewards_pb2.NOT_OFFERED, choice.reason, propensity=choice.propensity)
        # 6. The offer is shown: it is a touch, counted atomically against both caps.
        if not await store.take_touch(session, customer, day, week, policy.per_day, policy.per_week):
            cs = await store.contact_state(session, customer, day, week)
            reason = (
                "OPTED_OUT"
                if cs.opted_out
                else ("CONTACT_CAP_DAY" if cs.day_count >= policy.per_day else "CONTACT_CAP_WEEK")
            )
            return await record(rewards_pb2.NOT_OFFERED, reason)
        arm = campaign.arm(choice.arm)
        assert arm is not None
        response.arm.CopyFrom(arm_pb(arm))
        state.posteriors.record_trial(segment, arm.id)
        return await record(rewards_pb2.OFFERED, choice.reason, arm.id, choice.propensity)

    # ---------------------------------------------------------------- Claim
    async def Claim(
        self, request: rewards_pb2.ClaimRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.ClaimResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        if not _OFFER_ID.match(request.offer_id):
            v.add("offer_id", "must be an offer_id returned by Offer")
        v.raise_if_any()
        async with self.app.db.transaction() as session:
            return await self.app.idempotency.run(
                session,
                "RewardsService.Claim",
                request,
                rewards_pb2.ClaimResponse,
                lambda: self._claim(session, request),
            )

    async def _claim(self, session: AsyncSession, request: rewards_pb2.ClaimRequest) -> rewards_pb2.ClaimResponse:
        cfg, now = self.app.config.model, self.app.clock.now()
        d = await session.get(Decision, request.offer_id)
        if d is None or d.outcome != "OFFERED":
            raise NotFound("offer", request.offer_id)
        if d.customer_ref != request.customer.ref:
            raise PermissionDenied("the offer was made to another customer", reason="OFFER_NOT_OWNED")
        campaign = cfg.campaign(d.campaign_id)
        arm = campaign.arm(d.arm_id) if campaign else None
        if campaign is None or arm is None or not campaign_active(campaign, now):
            raise FailedPrecondition(
                "CAMPAIGN_NOT_ACTIVE", f"campaign {d.campaign_id} is not running", subject=f"campaign/{d.campaign_id}"
            )
        if d.claim_by is not None and now >= d.claim_by:
            raise FailedPrecondition("OFFER_EXPIRED", "the offer can no longer be claimed", subject=f"offer/{d.id}")
        taken = await session.execute(
            update(Decision).where(Decision.id == d.id, Decision.claimed.is_(False)).values(claimed=True)
        )
        if int(taken.rowcount) != 1:  # type: ignore[attr-defined]
            raise FailedPrecondition("OFFER_ALREADY_CLAIMED", "this offer was already claimed", subject=f"offer/{d.id}")
        # Lock order everywhere: coupon/decision → assignment → budget → budget day.
        # Fallback offers (wave > 0) go to customers who already claimed, so they take no claim slot.
        if d.wave == 0 and not await store.take_claim_slot(
            session, campaign.id, d.customer_ref, campaign.claims_per_customer
        ):
            raise QuotaExceeded(
                "CLAIM_LIMIT",
                f"at most {campaign.claims_per_customer} claim(s) per customer",
                subject=f"campaign/{campaign.id}",
            )
        day = contact.day_key(now, self.tz)
        await store.ensure_budget_rows(session, self.app.db.dialect, campaign.id, day)
        if not await store.reserve_total(session, campaign.id, arm.discount_fen, campaign.budget.total_fen):
            raise QuotaExceeded("BUDGET_EXHAUSTED", "the campaign budget is used up", subject=f"campaign/{campaign.id}")
        if not await store.reserve_day(session, campaign.id, day, arm.discount_fen, campaign.budget.daily_fen):
            raise QuotaExceeded(
                "DAILY_BUDGET_EXHAUSTED", "today's campaign budget is used up", subject=f"campaign/{campaign.id}/{day}"
            )
        coupon = Coupon(
            id=uuid.uuid4().hex,
            campaign_id=campaign.id,
            customer_ref=d.customer_ref,
            decision_id=d.id,
            arm_id=arm.id,
            segment=d.segment,
            threshold_fen=arm.threshold_fen,
            discount_fen=arm.discount_fen,
            validity_days=arm.validity_days,
            state=CLAIMED,
            claimed_at=now,
            claim_day=day,
            valid_until=now + timedelta(days=arm.validity_days),
            order_id=None,
            is_fallback=d.wave > 0,
            fallback_sent=0,
        )
        session.add(coupon)
        await session.flush()
        return rewards_pb2.ClaimResponse(coupon=coupon_pb(coupon))

    # ---------------------------------------------------------------- Redeem
    async def Redeem(
        self, request: rewards_pb2.RedeemRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.RedeemResponse:
        cfg = self.app.config.model
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        v.check(bool(request.coupon_id), "coupon_id", "required")
        _check_order_id(v, request.order_id, "order_id")
        v.check(request.order_amount.fen > 0, "order_amount.fen", "must be positive")
        if not request.scene:
            v.add("scene", "required")
        elif request.scene not in cfg.scenes:
            v.add("scene", f"unknown scene; one of {cfg.scenes}")
        v.raise_if_any()
        async with self.app.db.transaction() as session:
            response = await self.app.idempotency.run(
                session,
                "RewardsService.Redeem",
                request,
                rewards_pb2.RedeemResponse,
                lambda: self._redeem(session, request),
            )
        return response

    async def _redeem(self, session: AsyncSession, request: rewards_pb2.RedeemRequest) -> rewards_pb2.RedeemResponse:
        cfg, now = self.app.config.model, self.app.clock.now()
        previous = await session.get(Redemption, request.order_id)
        if previous is not None and not previous.refunded:
            # Idempotent by order id: the same order with the same coupon gets the first answer.
            if previous.coupon_id != request.coupon_id or previous.customer_ref != request.customer.ref:
                raise FailedPrecondition(
                    "ORDER_ALREADY_REDEEMED",
                    "this order already used another coupon",
                    subject=f"order/{request.order_id}",
                )
            coupon = await session.get(Coupon, previous.coupon_id)
            assert coupon is not None
            return self._redeem_response(previous, coupon)
        coupon = await session.get(Coupon, request.coupon_id)
        if coupon is None:
            raise NotFound("coupon", request.coupon_id)
        if coupon.customer_ref != request.customer.ref:
            raise PermissionDenied("this coupon belongs to another customer", reason="COUPON_NOT_OWNED")
        if coupon.state == REDEEMED:
            raise FailedPrecondition(
                "COUPON_ALREADY_USED", "the coupon was already used", subject=f"coupon/{coupon.id}"
            )
        if coupon.state == EXPIRED or now >= coupon.valid_until:
            raise FailedPrecondition("COUPON_EXPIRED", "the coupon has expired", subject=f"coupon/{coupon.id}")
        campaign = cfg.campaign(coupon.campaign_id)
        if campaign is None:
            raise FailedPrecondition(
                "CAMPAIGN_NOT_ACTIVE", "the campaign no longer exists", subject=f"campaign/{coupon.campaign_id}"
            )
        if request.scene not in campaign.scenes:
            raise FailedPrecondition(
                "SCENE_NOT_ALLOWED", f"coupon valid in {campaign.scenes}", subject=f"coupon/{coupon.id}"
            )
        if campaign.merchants and request.merchant_id not in campaign.merchants:
            raise FailedPrecondition(
                "MERCHANT_NOT_ALLOWED", "coupon not valid at this merchant", subject=f"coupon/{coupon.id}"
            )
        if request.order_amount.fen < coupon.threshold_fen:
            raise FailedPrecondition(
                "BELOW_THRESHOLD",
                f"order amount {request.order_amount.fen} fen is below the threshold {coupon.threshold_fen} fen",
                subject=f"coupon/{coupon.id}",
            )
        used = await session.execute(
            update(Coupon)
            .where(Coupon.id == coupon.id, Coupon.state == CLAIMED)
            .values(state=REDEEMED, order_id=request.order_id)
        )
        if int(used.rowcount) != 1:  # type: ignore[attr-defined]
            raise FailedPrecondition(
                "COUPON_ALREADY_USED", "the coupon was already used", subject=f"coupon/{coupon.id}"
            )
        if previous is not None:  # a refunded order paid again with a coupon
            await session.delete(previous)
            await session.flush()
        redemption = Redemption(
            order_id=request.order_id,
            coupon_id=coupon.id,
            campaign_id=coupon.campaign_id,
            customer_ref=coupon.customer_ref,
            amount_fen=request.order_amount.fen,
            discount_fen=coupon.discount_fen,
            redeemed_at=now,
            refunded=False,
        )
        session.add(redemption)
        await session.execute(update(Decision).where(Decision.id == coupon.decision_id).values(converted=True))
        await store.add_payment(
            session,
            campaigns_in_scene(cfg, request.scene),
            coupon.customer_ref,
            request.order_amount.fen,
            now,
            redemption=1,
        )
        await store.move_budget(session, coupon.campaign_id, -coupon.discount_fen, coupon.discount_fen)
        await session.flush()
        coupon.state, coupon.order_id = REDEEMED, request.order_id
        self.app.runtime.campaign(cfg, coupon.campaign_id).posteriors.record_success(coupon.segment, coupon.arm_id)
        return self._redeem_response(redemption, coupon)

    @staticmethod
    def _redeem_response(r: Redemption, coupon: Coupon) -> rewards_pb2.RedeemResponse:
        return rewards_pb2.RedeemResponse(
            order_id=r.order_id,
            coupon=coupon_pb(coupon),
            discount=_money(r.discount_fen),
            amount_due=_money(r.amount_fen - r.discount_fen),
        )

    # ---------------------------------------------------------------- RefundOrder
    async def RefundOrder(
        self, request: rewards_pb2.RefundOrderRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.RefundOrderResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        _check_order_id(v, request.order_id, "order_id")
        v.raise_if_any()
        async with self.app.db.transaction() as session:
            return await self.app.idempotency.run(
                session,
                "RewardsService.RefundOrder",
                request,
                rewards_pb2.RefundOrderResponse,
                lambda: self._refund(session, request),
            )

    async def _refund(
        self, session: AsyncSession, request: rewards_pb2.RefundOrderRequest
    ) -> rewards_pb2.RefundOrderResponse:
        cfg, now = self.app.config.model, self.app.clock.now()
        r = await session.get(Redemption, request.order_id)
        if r is None:
            raise NotFound("redemption", request.order_id)
        coupon = await session.get(Coupon, r.coupon_id)
        assert coupon is not None
        if r.refunded:
            return rewards_pb2.RefundOrderResponse(coupon=coupon_pb(coupon), restored=_money(0))
        done = await session.execute(
            update(Redemption)
            .where(Redemption.order_id == r.order_id, Redemption.refunded.is_(False))
            .values(refunded=True)
        )
        if int(done.rowcount) != 1:  # type: ignore[attr-defined]
            return rewards_pb2.RefundOrderResponse(coupon=coupon_pb(coupon), restored=_money(0))
        still_valid = now < coupon.valid_until
        new_state = CLAIMED if still_valid else EXPIRED
        await session.execute(update(Coupon).where(Coupon.id == coupon.id).values(state=new_state, order_id=None))
        campaign = cfg.campaign(coupon.campaign_id)
        scenes = campaign.scenes if campaign else []
        await store.add_payment(
            session,
            [c.id for c in cfg.campaigns if set(c.scenes) & set(scenes)] or [coupon.campaign_id],
            coupon.customer_ref,
            -r.amount_fen,
            now,
            redemption=-1,
        )
        if still_valid:
            # The coupon is usable again: its face value goes back from spent to reserved.
            await store.move_budget(session, coupon.campaign_id, coupon.discount_fen, -coupon.discount_fen)
        else:
            await store.move_budget(session, coupon.campaign_id, 0, -coupon.discount_fen)
            await store.release_day(session, coupon.campaign_id, coupon.claim_day, coupon.discount_fen)
        coupon.state, coupon.order_id = new_state, None
        return rewards_pb2.RefundOrderResponse(coupon=coupon_pb(coupon), restored=_money(coupon.discount_fen))

    # ---------------------------------------------------------------- RecordPayment
    async def RecordPayment(
        self, request: rewards_pb2.RecordPaymentRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.RecordPaymentResponse:
        cfg = self.app.config.model
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        _check_order_id(v, request.order_id, "order_id")
        v.check(request.amount.fen > 0, "amount.fen", "must be positive")
        if request.scene not in cfg.scenes:
            v.add("scene", f"unknown scene; one of {cfg.scenes}")
        v.raise_if_any()
        async with self.app.db.transaction() as session:
            return await self.app.idempotency.run(
                session,
                "RewardsService.RecordPayment",
                request,
                rewards_pb2.RecordPaymentResponse,
                lambda: self._record_payment(session, request),
            )

    async def _record_payment(
        self, session: AsyncSession, request: rewards_pb2.RecordPaymentRequest
    ) -> rewards_pb2.RecordPaymentResponse:
        cfg, now = self.app.config.model, self.app.clock.now()
        inserted = await session.execute(
            insert_ignoring_conflicts(self.app.db.dialect, Payment.__table__).values(
                order_id=request.order_id,
                customer_ref=request.customer.ref,
                scene=request.scene,
                amount_fen=request.amount.fen,
                occurred_at=now,
            )
        )
        if int(inserted.rowcount) != 1:  # type: ignore[attr-defined]
            return rewards_pb2.RecordPaymentResponse(recorded=False)
        counted = await store.add_payment(
            session, campaigns_in_scene(cfg, request.scene), request.customer.ref, request.amount.fen, now
        )
        # A holdout customer who pays soon after their (non-)offer is a baseline conversion.
        window = now - timedelta(days=cfg.policy.baseline_window_days)
        converted = await session.execute(
            update(Decision)
            .where(
                Decision.customer_ref == request.customer.ref,
                Decision.campaign_id.in_(counted or [""]),
                Decision.outcome == "HOLDOUT",
                Decision.converted.is_(False),
                Decision.decided_at >= window,
            )
            .values(converted=True)
            .returning(Decision.campaign_id, Decision.segment)
        )
        for campaign_id, segment in converted.all():
            self.app.runtime.campaign(cfg, campaign_id).posteriors.record_success(segment, BASELINE)
        return rewards_pb2.RecordPaymentResponse(campaign_ids=counted, recorded=True)

    # ---------------------------------------------------------------- SetOptOut
    async def SetOptOut(
        self, request: rewards_pb2.SetOptOutRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.SetOptOutResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        v.raise_if_any()
        async with self.app.db.transaction() as session:

            async def handler() -> rewards_pb2.SetOptOutResponse:
                from services.rewards.models import Contact

                await store.ensure_contact(session, self.app.db.dialect, request.customer.ref)
                await session.execute(
                    update(Contact)
                    .where(Contact.customer_ref == request.customer.ref)
                    .values(opted_out=request.opted_out)
                )
                return rewards_pb2.SetOptOutResponse(opted_out=request.opted_out)

            return await self.app.idempotency.run(
                session, "RewardsService.SetOptOut", request, rewards_pb2.SetOptOutResponse, handler
            )

    # ---------------------------------------------------------------- GetCampaignReport
    async def GetCampaignReport(
        self, request: rewards_pb2.GetCampaignReportRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.CampaignReport:
        cfg = self.app.config.model
        campaign = cfg.campaign(request.campaign_id)
        if campaign is None:
            if not request.campaign_id:
                v = Violations()
                v.add("campaign_id", "required")
                v.raise_if_any()
            raise NotFound("campaign", request.campaign_id)
        day = contact.day_key(self.app.clock.now(), self.tz)
        async with self.app.db.read() as session:
            report = await campaign_report(session, campaign, day)
        setattr(report, "lambda", self.app.runtime.campaign(cfg, campaign.id).pacer.lam)
        report.config_version = self.app.config.current.version
        return report


async def coupon_by_id(session: AsyncSession, coupon_id: str) -> Coupon | None:
    return (await session.execute(select(Coupon).where(Coupon.id == coupon_id))).scalar_one_or_none()
