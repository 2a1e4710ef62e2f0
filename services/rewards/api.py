"""gRPC servicer of skylane.rewards.v1: validates, maps proto ⇄ domain, and runs every mutating call as
one unit of work in the write batcher (group commit on SQLite).

A unit of work only awaits the database. What the policy learns from a call (a trial, a redemption, a
holdout conversion) is collected while the unit runs and applied in memory only after it committed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import and_, false, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.errors import FailedPrecondition, NotFound, PermissionDenied, QuotaExceeded, Violations
from services.common.validation import check_customer_ref, check_idempotency_key, page_size
from services.rewards import store
from services.rewards.config import Arm, Campaign
from services.rewards.domain import contact, holdout
from services.rewards.domain.policy import BASELINE, choose
from services.rewards.domain.profile import Profile, segment_of, unmet
from services.rewards.reports import campaign_report
from services.rewards.runtime import ConfigView, campaign_active
from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc

if TYPE_CHECKING:
    from services.rewards.app import RewardsApp

R = TypeVar("R", bound=Message)
Learned = list[Callable[[], None]]  # in-memory learning to apply once the unit of work has committed
Work = Callable[[AsyncConnection, Learned], Awaitable[R]]

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


def coupon_pb(c: Any, state: str | None = None) -> rewards_pb2.Coupon:
    """A coupon row (ORM object or Core row with the coupon's column names) as the wire message."""
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
        state=_STATE[state or c.state],
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


def _check_scene(v: Violations, view: ConfigView, scene: str) -> None:
    if not scene:
        v.add("scene", "required")
    elif scene not in view.cfg.scenes:
        v.add("scene", f"unknown scene; one of {view.cfg.scenes}")


def _campaign_gone(campaign_id: str) -> FailedPrecondition:
    return FailedPrecondition(
        "CAMPAIGN_NOT_ACTIVE", f"campaign {campaign_id} is not running", subject=f"campaign/{campaign_id}"
    )


class RewardsServicer(rewards_pb2_grpc.RewardsServiceServicer):
    def __init__(self, app: RewardsApp) -> None:
        self.app = app

    async def _write(self, method: str, request: Message, response_type: type[R], work: Work[R]) -> R:
        """Runs one mutating call (with its idempotency record) as a unit of work of the write batcher."""
        learned: Learned = []

        async def unit(session: AsyncSession) -> R:
            return await work(await session.connection(), learned)

        response = await self.app.write(method, request, response_type, unit)
        for apply in learned:  # committed: now the policy may learn from it
            apply()
        return response

    # ---------------------------------------------------------------- Offer
    async def Offer(
        self, request: rewards_pb2.OfferRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.OfferResponse:
        view = self.app.view()
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        _check_scene(v, view, request.scene)
        p = request.profile
        v.check(p.age >= 0, "profile.age", "must not be negative")
        v.check(p.monthly_payment_count >= 0, "profile.monthly_payment_count", "must not be negative")
        v.check(p.monthly_payment_amount.fen >= 0, "profile.monthly_payment_amount.fen", "must not be negative")
        v.raise_if_any()
        now = self.app.clock.now()
        campaign = self._pick_campaign(view, request, now)

        async def work(conn: AsyncConnection, learned: Learned) -> rewards_pb2.OfferResponse:
            if campaign is None:
                return rewards_pb2.OfferResponse(
                    outcome=rewards_pb2.NOT_OFFERED, reason="NO_ACTIVE_CAMPAIGN", config_version=view.version
                )
            return await self._offer(conn, view, campaign, request, now, learned)

        return await self._write("RewardsService.Offer", request, rewards_pb2.OfferResponse, work)

    def _pick_campaign(self, view: ConfigView, request: rewards_pb2.OfferRequest, now: datetime) -> Campaign | None:
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

    async def _offer(
        self,
        conn: AsyncConnection,
        view: ConfigView,
        campaign: Campaign,
        request: rewards_pb2.OfferRequest,
        now: datetime,
        learned: Learned,
    ) -> rewards_pb2.OfferResponse:
        """Statements: one snapshot upsert, the touch (only when an arm is chosen) and the decision."""
        app, cfg, tz, dialect = self.app, view.cfg, view.tz, self.app.db.dialect
        customer = request.customer.ref
        profile = profile_of(request.profile)
        segment = segment_of(cfg.segments, profile)
        state = app.runtime.campaign(cfg, campaign.id)
        day, week = contact.day_key(now, tz), contact.week_key(now, tz)
        response = rewards_pb2.OfferResponse(
            offer_id=uuid.uuid4().hex, campaign_id=campaign.id, segment=segment, config_version=view.version
        )

        async def record(
            outcome: int, reason: str, arm: str = "", propensity: float = 1.0
        ) -> rewards_pb2.OfferResponse:
            response.outcome, response.reason = outcome, reason  # type: ignore[assignment]
            claim_by = now + timedelta(hours=campaign.offer_ttl_hours) if arm else None
            if claim_by is not None:
                response.claim_by.CopyFrom(_ts(claim_by))
            await store.insert_decision(
                conn,
                {
                    "id": response.offer_id,
                    "campaign_id": campaign.id,
                    "customer_ref": customer,
                    "decided_at": now,
                    "outcome": rewards_pb2.OfferOutcome.Name(outcome),
                    "reason": reason,
                    "segment": segment,
                    "arm_id": arm,
                    "propensity": propensity,
                    "lam": state.pacer.lam,
                    "config_version": view.version,
                    "claim_by": claim_by,
                    "claimed": False,
                    "converted": False,
                    "wave": 0,
                },
            )
            return response

        # 1. Holdout: recorded on first sight (the recorded group wins), never treated; it teaches p0.
        snap = await store.offer_snapshot(
            conn,
            dialect,
            campaign.id,
            customer,
            holdout.assign(campaign.id, customer, campaign.holdout_share),
            now,
            day,
            week,
        )
        if snap.grp == holdout.HOLDOUT:
            learned.append(lambda: state.posteriors.record_trial(segment, BASELINE))
            return await record(rewards_pb2.HOLDOUT, "HOLDOUT")
        state.pacer.arrive(now, segment)
        # 2. Opt-out, quiet hours and contact caps (across all campaigns).
        policy, cs = cfg.contact, snap.contact
        if cs.opted_out or customer in view.opt_out:
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
        if snap.claims >= campaign.claims_per_customer:
            return await record(rewards_pb2.NOT_OFFERED, "CLAIM_LIMIT")
        # 4. Budget (advisory here; Claim reserves atomically).
        total_left = campaign.budget.total_fen - snap.reserved_fen - snap.spent_fen
        today_left = campaign.budget.daily_fen - snap.today_fen
        # 5. The arm.
        arms, values, params = view.arms[campaign.id], view.values[campaign.id], view.params
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
            state.posteriors,
            segment,
            arms,
            values[segment],
            state.pacer.lam,
            app.runtime.rng,
            params,
            min(total_left, today_left),
            state.propensities,
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
        if not await store.take_touch(conn, dialect, customer, day, week, policy.per_day, policy.per_week):
            cs = await store.contact_state(conn, customer, day, week)  # moved since the snapshot
            reason = (
                "OPTED_OUT"
                if cs.opted_out
                else ("CONTACT_CAP_DAY" if cs.day_count >= policy.per_day else "CONTACT_CAP_WEEK")
            )
            return await record(rewards_pb2.NOT_OFFERED, reason)
        arm = campaign.arm(choice.arm)
        assert arm is not None
        response.arm.CopyFrom(arm_pb(arm))
        learned.append(lambda: state.posteriors.record_trial(segment, arm.id))
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
        view, now = self.app.view(), self.app.clock.now()
        return await self._write(
            "RewardsService.Claim",
            request,
            rewards_pb2.ClaimResponse,
            lambda conn, learned: self._claim(conn, view, request, now),
        )

    async def _claim(
        self, conn: AsyncConnection, view: ConfigView, request: rewards_pb2.ClaimRequest, now: datetime
    ) -> rewards_pb2.ClaimResponse:
        """Statements: the offer, the claim slot, the total and the day's budget, the coupon.

        Lock order everywhere: coupon/decision → assignment → budget → budget day.
        """
        dialect, customer = self.app.db.dialect, request.customer.ref
        taken = await store.claim_offer(conn, request.offer_id, customer, now)
        if taken is None:
            await self._refuse_claim(conn, view, request, now)
        campaign_id, arm_id, segment, wave = taken
        campaign = view.campaigns.get(campaign_id)
        arm = campaign.arm(arm_id) if campaign else None
        if campaign is None or arm is None or not campaign_active(campaign, now):
            raise _campaign_gone(campaign_id)
        # Fallback offers (wave > 0) go to customers who already claimed, so they take no claim slot.
        if wave == 0 and not await store.take_claim_slot(conn, campaign.id, customer, campaign.claims_per_customer):
            raise QuotaExceeded(
                "CLAIM_LIMIT",
                f"at most {campaign.claims_per_customer} claim(s) per customer",
                subject=f"campaign/{campaign.id}",
            )
        day, face, budget = contact.day_key(now, view.tz), arm.discount_fen, campaign.budget
        if face > budget.total_fen or not await store.reserve_total(conn, dialect, campaign.id, face, budget.total_fen):
            raise QuotaExceeded("BUDGET_EXHAUSTED", "the campaign budget is used up", subject=f"campaign/{campaign.id}")
        if face > budget.daily_fen or not await store.reserve_day(
            conn, dialect, campaign.id, day, face, budget.daily_fen
        ):
            raise QuotaExceeded(
                "DAILY_BUDGET_EXHAUSTED", "today's campaign budget is used up", subject=f"campaign/{campaign.id}/{day}"
            )
        values: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "campaign_id": campaign.id,
            "customer_ref": customer,
            "decision_id": request.offer_id,
            "arm_id": arm.id,
            "segment": segment,
            "threshold_fen": arm.threshold_fen,
            "discount_fen": arm.discount_fen,
            "validity_days": arm.validity_days,
            "state": CLAIMED,
            "claimed_at": now,
            "claim_day": day,
            "valid_until": now + timedelta(days=arm.validity_days),
            "order_id": None,
            "is_fallback": wave > 0,
            "fallback_sent": 0,
        }
        await store.insert_coupon(conn, values)
        return rewards_pb2.ClaimResponse(coupon=coupon_pb(_Row(values)))

    async def _refuse_claim(
        self, conn: AsyncConnection, view: ConfigView, request: rewards_pb2.ClaimRequest, now: datetime
    ) -> None:
        """The offer could not be claimed: says why, in the order the rules are documented."""
        d = await store.decision_for_claim(conn, request.offer_id)
        if d is None or d.outcome != "OFFERED":
            raise NotFound("offer", request.offer_id)
        if d.customer_ref != request.customer.ref:
            raise PermissionDenied("the offer was made to another customer", reason="OFFER_NOT_OWNED")
        campaign = view.campaigns.get(d.campaign_id)
        if campaign is None or campaign.arm(d.arm_id) is None or not campaign_active(campaign, now):
            raise _campaign_gone(d.campaign_id)
        if d.claim_by is not None and now >= d.claim_by:
            raise FailedPrecondition("OFFER_EXPIRED", "the offer can no longer be claimed", subject=f"offer/{d.id}")
        raise FailedPrecondition(
            "OFFER_ALREADY_CLAIMED", "this offer was already claimed", subject=f"offer/{request.offer_id}"
        )

    # ---------------------------------------------------------------- Redeem
    async def Redeem(
        self, request: rewards_pb2.RedeemRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.RedeemResponse:
        view = self.app.view()
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        v.check(bool(request.coupon_id), "coupon_id", "required")
        _check_order_id(v, request.order_id, "order_id")
        v.check(request.order_amount.fen > 0, "order_amount.fen", "must be positive")
        _check_scene(v, view, request.scene)
        v.raise_if_any()
        now = self.app.clock.now()
        return await self._write(
            "RewardsService.Redeem",
            request,
            rewards_pb2.RedeemResponse,
            lambda conn, learned: self._redeem(conn, view, request, now, learned),
        )

    async def _redeem(
        self,
        conn: AsyncConnection,
        view: ConfigView,
        request: rewards_pb2.RedeemRequest,
        now: datetime,
        learned: Learned,
    ) -> rewards_pb2.RedeemResponse:
        """Statements: the coupon (every rule in its WHERE), the order's redemption, the customer's
        measurement row and the budget. Anything refused is diagnosed by reads on the refusal path."""
        amount = request.order_amount.fen
        c = await store.redeem_coupon(
            conn,
            request.coupon_id,
            request.customer.ref,
            request.order_id,
            amount,
            now,
            view.redeemable_in(request.scene, request.merchant_id),
        )
        if c is None:
            return await self._redeem_refused(conn, view, request, now)
        recorded = await store.record_redemption(
            conn,
            self.app.db.dialect,
            {
                "order_id": request.order_id,
                "coupon_id": c.id,
                "campaign_id": c.campaign_id,
                "customer_ref": c.customer_ref,
                "amount_fen": amount,
                "discount_fen": c.discount_fen,
                "redeemed_at": now,
                "refunded": False,
            },
        )
        if not recorded:  # the order was paid with another coupon: this unit rolls back
            raise FailedPrecondition(
                "ORDER_ALREADY_REDEEMED", "this order already used another coupon", subject=f"order/{request.order_id}"
            )
        await store.add_payment(conn, view.in_scene.get(request.scene, []), c.customer_ref, amount, now, redemption=1)
        await store.move_budget(conn, c.campaign_id, -c.discount_fen, c.discount_fen)
        self._learn_conversion(learned, view, c, converted=True)
        return rewards_pb2.RedeemResponse(
            order_id=request.order_id,
            coupon=coupon_pb(c),
            discount=_money(c.discount_fen),
            amount_due=_money(amount - c.discount_fen),
        )

    async def _redeem_refused(
        self, conn: AsyncConnection, view: ConfigView, request: rewards_pb2.RedeemRequest, now: datetime
    ) -> rewards_pb2.RedeemResponse:
        """The coupon was not redeemable: the same order retried gets its first answer, else the reason."""
        previous = await store.redemption_row(conn, request.order_id)
        if previous is not None and not previous.refunded:
            # Idempotent by order id: the same order with the same coupon gets the first answer.
            if previous.coupon_id != request.coupon_id or previous.customer_ref != request.customer.ref:
                raise FailedPrecondition(
                    "ORDER_ALREADY_REDEEMED",
                    "this order already used another coupon",
                    subject=f"order/{request.order_id}",
                )
            first = await store.coupon_row(conn, previous.coupon_id)
            return rewards_pb2.RedeemResponse(
                order_id=previous.order_id,
                coupon=coupon_pb(first),
                discount=_money(previous.discount_fen),
                amount_due=_money(previous.amount_fen - previous.discount_fen),
            )
        coupon = await store.coupon_row(conn, request.coupon_id)
        if coupon is None:
            raise NotFound("coupon", request.coupon_id)
        subject = f"coupon/{coupon.id}"
        if coupon.customer_ref != request.customer.ref:
            raise PermissionDenied("this coupon belongs to another customer", reason="COUPON_NOT_OWNED")
        if coupon.state == REDEEMED:
            raise FailedPrecondition("COUPON_ALREADY_USED", "the coupon was already used", subject=subject)
        if coupon.state == EXPIRED or now >= coupon.valid_until:
            raise FailedPrecondition("COUPON_EXPIRED", "the coupon has expired", subject=subject)
        campaign = view.campaigns.get(coupon.campaign_id)
        if campaign is None:
            raise FailedPrecondition(
                "CAMPAIGN_NOT_ACTIVE", "the campaign no longer exists", subject=f"campaign/{coupon.campaign_id}"
            )
        if request.scene not in campaign.scenes:
            raise FailedPrecondition("SCENE_NOT_ALLOWED", f"coupon valid in {campaign.scenes}", subject=subject)
        if campaign.merchants and request.merchant_id not in campaign.merchants:
            raise FailedPrecondition("MERCHANT_NOT_ALLOWED", "coupon not valid at this merchant", subject=subject)
        if request.order_amount.fen < coupon.threshold_fen:
            raise FailedPrecondition(
                "BELOW_THRESHOLD",
                f"order amount {request.order_amount.fen} fen is below the threshold {coupon.threshold_fen} fen",
                subject=subject,
            )
        raise FailedPrecondition("COUPON_ALREADY_USED", "the coupon was already used", subject=subject)

    def _learn_conversion(self, learned: Learned, view: ConfigView, coupon: Any, *, converted: bool) -> None:
        """A redemption teaches the coupon's cell a success; its refund takes it back. The policy learns
        from its own offers only (wave 0): fallback waves are a fixed arm whose trials it never recorded,
        and the posteriors rebuilt at start-up count wave 0 alone."""
        if coupon.is_fallback:
            return
        posteriors = self.app.runtime.campaign(view.cfg, coupon.campaign_id).posteriors
        segment, arm_id = coupon.segment, coupon.arm_id
        if converted:
            learned.append(lambda: posteriors.record_success(segment, arm_id))
        else:
            learned.append(lambda: posteriors.retract_success(segment, arm_id))

    # ---------------------------------------------------------------- RefundOrder
    async def RefundOrder(
        self, request: rewards_pb2.RefundOrderRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.RefundOrderResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        _check_order_id(v, request.order_id, "order_id")
        v.raise_if_any()
        view, now = self.app.view(), self.app.clock.now()
        return await self._write(
            "RewardsService.RefundOrder",
            request,
            rewards_pb2.RefundOrderResponse,
            lambda conn, learned: self._refund(conn, view, request, now, learned),
        )

    async def _refund(
        self,
        conn: AsyncConnection,
        view: ConfigView,
        request: rewards_pb2.RefundOrderRequest,
        now: datetime,
        learned: Learned,
    ) -> rewards_pb2.RefundOrderResponse:
        r = await store.redemption_row(conn, request.order_id)
        if r is None:
            raise NotFound("redemption", request.order_id)
        coupon = await store.coupon_row(conn, r.coupon_id)
        assert coupon is not None
        if r.refunded:
            return rewards_pb2.RefundOrderResponse(coupon=coupon_pb(coupon), restored=_money(0))
        done = await conn.execute(
            update(store.redemptions)
            .where(store.redemptions.c.order_id == r.order_id, store.redemptions.c.refunded == false())
            .values(refunded=True)
        )
        if int(done.rowcount) != 1:
            return rewards_pb2.RefundOrderResponse(coupon=coupon_pb(coupon), restored=_money(0))
        self._learn_conversion(learned, view, coupon, converted=False)
        still_valid = now < coupon.valid_until
        new_state = CLAIMED if still_valid else EXPIRED
        await conn.execute(
            update(store.coupons).where(store.coupons.c.id == coupon.id).values(state=new_state, order_id=None)
        )
        campaign = view.campaigns.get(coupon.campaign_id)
        scenes = set(campaign.scenes) if campaign else set()
        await store.add_payment(
            conn,
            [c.id for c in view.cfg.campaigns if set(c.scenes) & scenes] or [coupon.campaign_id],
            coupon.customer_ref,
            -r.amount_fen,
            now,
            redemption=-1,
        )
        if still_valid:
            # The coupon is usable again: its face value goes back from spent to reserved.
            await store.move_budget(conn, coupon.campaign_id, coupon.discount_fen, -coupon.discount_fen)
        else:
            await store.move_budget(conn, coupon.campaign_id, 0, -coupon.discount_fen)
            await store.release_day(conn, coupon.campaign_id, coupon.claim_day, coupon.discount_fen)
        return rewards_pb2.RefundOrderResponse(
            coupon=coupon_pb(coupon, state=new_state), restored=_money(coupon.discount_fen)
        )

    # ---------------------------------------------------------------- RecordPayment
    async def RecordPayment(
        self, request: rewards_pb2.RecordPaymentRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.RecordPaymentResponse:
        view = self.app.view()
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        _check_order_id(v, request.order_id, "order_id")
        v.check(request.amount.fen > 0, "amount.fen", "must be positive")
        if request.scene not in view.cfg.scenes:
            v.add("scene", f"unknown scene; one of {view.cfg.scenes}")
        v.raise_if_any()
        now = self.app.clock.now()
        return await self._write(
            "RewardsService.RecordPayment",
            request,
            rewards_pb2.RecordPaymentResponse,
            lambda conn, learned: self._record_payment(conn, view, request, now, learned),
        )

    async def _record_payment(
        self,
        conn: AsyncConnection,
        view: ConfigView,
        request: rewards_pb2.RecordPaymentRequest,
        now: datetime,
        learned: Learned,
    ) -> rewards_pb2.RecordPaymentResponse:
        payments = store.payments
        inserted = await conn.execute(
            store.upsert(self.app.db.dialect, payments)
            .values(
                order_id=request.order_id,
                customer_ref=request.customer.ref,
                scene=request.scene,
                amount_fen=request.amount.fen,
                occurred_at=now,
            )
            .on_conflict_do_nothing()
        )
        if int(inserted.rowcount) != 1:
            return rewards_pb2.RecordPaymentResponse(recorded=False)
        counted = await store.add_payment(
            conn, view.in_scene.get(request.scene, []), request.customer.ref, request.amount.fen, now
        )
        # A holdout customer who pays soon after their (non-)offer is a baseline conversion.
        d = store.decisions.c
        window = now - timedelta(days=view.cfg.policy.baseline_window_days)
        converted = await conn.execute(
            update(store.decisions)
            .where(
                and_(
                    d.customer_ref == request.customer.ref,
                    d.campaign_id.in_(counted or [""]),
                    d.outcome == "HOLDOUT",
                    d.converted == false(),
                    d.decided_at >= window,
                )
            )
            .values(converted=True)
            .returning(d.campaign_id, d.segment)
        )
        for campaign_id, segment in converted.all():
            posteriors = self.app.runtime.campaign(view.cfg, campaign_id).posteriors
            learned.append(lambda p=posteriors, s=segment: p.record_success(s, BASELINE))  # type: ignore[misc]
        return rewards_pb2.RecordPaymentResponse(campaign_ids=counted, recorded=True)

    # ---------------------------------------------------------------- SetOptOut
    async def SetOptOut(
        self, request: rewards_pb2.SetOptOutRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.SetOptOutResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        v.raise_if_any()

        async def work(conn: AsyncConnection, learned: Learned) -> rewards_pb2.SetOptOutResponse:
            await store.set_opt_out(conn, self.app.db.dialect, request.customer.ref, request.opted_out)
            return rewards_pb2.SetOptOutResponse(opted_out=request.opted_out)

        return await self._write("RewardsService.SetOptOut", request, rewards_pb2.SetOptOutResponse, work)

    # ---------------------------------------------------------------- ListPendingOffers
    async def ListPendingOffers(
        self, request: rewards_pb2.ListPendingOffersRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.ListPendingOffersResponse:
        view = self.app.view()
        v = Violations()
        check_customer_ref(v, request.customer.ref, "customer.ref")
        offset = 0
        if request.page.page_token:
            if request.page.page_token.isdigit() and len(request.page.page_token) <= 9:
                offset = int(request.page.page_token)
            else:
                v.add("page.page_token", "must be a page_token returned by ListPendingOffers")
        v.raise_if_any()
        size, now = page_size(request.page.page_size), self.app.clock.now()
        async with self.app.db.read() as session:
            rows = await store.pending_offers(session, request.customer.ref, now, size + 1, offset)
        response = rewards_pb2.ListPendingOffersResponse()
        for row in rows[:size]:
            campaign = view.campaigns.get(row.campaign_id)
            arm = campaign.arm(row.arm_id) if campaign else None
            if campaign is None or arm is None or not campaign_active(campaign, now):
                continue  # its campaign ended or changed: it could not be claimed any more
            if row.wave == 0 and (row.claims or 0) >= campaign.claims_per_customer:
                continue  # Claim would refuse it with CLAIM_LIMIT
            response.offers.add(
                offer_id=row.id,
                campaign_id=row.campaign_id,
                arm=arm_pb(arm),
                reason=row.reason,
                wave=row.wave,
                offered_at=_ts(row.decided_at),
                claim_by=_ts(row.claim_by),
            )
        if len(rows) > size:
            response.page.next_page_token = str(offset + size)
        return response

    # ---------------------------------------------------------------- GetCampaignReport
    async def GetCampaignReport(
        self, request: rewards_pb2.GetCampaignReportRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.CampaignReport:
        view = self.app.view()
        campaign = view.campaigns.get(request.campaign_id)
        if campaign is None:
            if not request.campaign_id:
                v = Violations()
                v.add("campaign_id", "required")
                v.raise_if_any()
            raise NotFound("campaign", request.campaign_id)
        day = contact.day_key(self.app.clock.now(), view.tz)
        async with self.app.db.report() as session:
            report = await campaign_report(session, campaign, day)
        setattr(report, "lambda", self.app.runtime.campaign(view.cfg, campaign.id).pacer.lam)
        report.config_version = view.version
        return report


class _Row:
    """Attribute access over a dict of column values (a coupon just inserted)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
