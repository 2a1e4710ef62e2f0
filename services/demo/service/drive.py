"""Drives the day through the services' public gRPC APIs, in time order, on the suite's movable clock.

Each planned event becomes the calls a channel app, a payment flow or the bank's loan system would make:
RouteApplicant for an applicant, RecordLoanDrawn (router) when an in-house loan is drawn, Offer → Claim → Redeem
(or RecordPayment) around a payment, EnrollMember and RecordActivity for sign-ins, payments and loans drawn,
ListRights → RedeemRight → ConfirmRedemption for rights. Growth learns of a loan drawn and of a card payment
from the demo's RecordActivity only: the demo's growth config maps no peer event to those activities
(services/demo/app.py, growth_earns_once), so each earns once.
What people do next is decided by the world (services/demo/domain/world.py) and queued as a later event.
Calls are made one at a time, so the services see the same sequence on every run with the same seed.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.common.clock import ManualClock
from services.demo.domain import plan, world
from services.demo.domain.plan import Event
from services.demo.domain.tally import LeadSeen, Tally
from services.demo.domain.world import Applicant, Customer, rng_for
from skylane.common.v1 import types_pb2
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc
from skylane.router.v1 import router_pb2, router_pb2_grpc

TIMEOUT_S = 30.0
T = TypeVar("T")
# Rewards' travel scene as the growth programme's payment scenes (its travel task counts airline/hotel/rail).
GROWTH_SCENE = {"travel": "airline", "rail": "rail"}
TRAVEL_RIGHTS_FIRST = ("travel_insurance", "fast_track_security", "lounge_access", "coffee_voucher")


def reason_of(error: grpc.aio.AioRpcError) -> str:
    """The machine reason of a refusal (google.rpc.ErrorInfo), else the status code's name."""
    from google.rpc import error_details_pb2, status_pb2

    raw = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    if isinstance(raw, bytes):
        for detail in status_pb2.Status.FromString(raw).details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                if info.reason:
                    return str(info.reason)
    return str(error.code().name)


def stamp(at: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(at)
    return ts


@dataclass
class Stubs:
    router: router_pb2_grpc.RouterServiceStub
    growth: growth_pb2_grpc.GrowthServiceStub
    rewards: rewards_pb2_grpc.RewardsServiceStub

    @classmethod
    def over(cls, channels: dict[str, grpc.aio.Channel]) -> Stubs:
        return cls(
            router_pb2_grpc.RouterServiceStub(channels["router"]),
            growth_pb2_grpc.GrowthServiceStub(channels["growth"]),
            rewards_pb2_grpc.RewardsServiceStub(channels["rewards"]),
        )


@dataclass(frozen=True)
class World:
    seed: int
    day: date
    zone: ZoneInfo
    customers: list[Customer]
    applicants: list[Applicant]
    scenes: tuple[str, ...]

    @property
    def last_minute(self) -> datetime:
        return datetime.combine(self.day, time(23, 58), tzinfo=self.zone)

    def later(self, at: datetime, minutes: float) -> datetime:
        """A follow-up time, kept inside the day."""
        return min(at + timedelta(minutes=minutes), self.last_minute)


class Day:
    def __init__(
        self, stubs: Stubs, clock: ManualClock, settle: Callable[[], Awaitable[int]], w: World, tally: Tally
    ) -> None:
        self.stubs, self.clock, self.settle, self.w, self.tally = stubs, clock, settle, w, tally
        self.members: set[str] = set()
        self._calls = 0
        self._seq = 10**9  # follow-ups sort after planned events at the same instant
        self._handlers: dict[str, Callable[[Event], Awaitable[list[Event]]]] = {
            plan.APPLY: self._apply,
            plan.DRAW: self._draw,
            plan.MOMENT: self._moment,
            plan.PAY: self._pay,
            plan.SIGN_IN: self._sign_in,
            plan.ACTIVITY: self._activity,
            plan.RIGHTS: self._rights,
            plan.SETTLE: self._settle,
        }

    # --- plumbing -------------------------------------------------------------------------------------

    def _key(self, kind: str) -> types_pb2.IdempotencyKey:
        self._calls += 1
        return types_pb2.IdempotencyKey(value=f"demo-{self.w.seed}-{kind}-{self._calls}")

    def _follow(self, at: datetime, kind: str, who: int, detail: str = "", data: tuple[object, ...] = ()) -> Event:
        self._seq += 1
        return Event(at, self._seq, kind, who, detail, data)

    async def _call(self, what: str, call: Awaitable[T], expected: tuple[str, ...] = ()) -> T | str:
        """The answer, or the refusal's reason; a refusal not in `expected` is also counted as an error."""
        try:
            return await call
        except grpc.aio.AioRpcError as error:
            reason = reason_of(error)
            if reason not in expected:
                self.tally.errors[f"{what}: {reason}"] += 1
            return reason

    # --- the day ----------------------------------------------------------------------------------------

    async def bring_history(self, on_progress: Callable[[int, int], None], parallel: int = 8) -> None:
        """Enrols the members who joined before today and replays what they did since (their balances and
        levels at the start of the day)."""
        members = [c for c in self.w.customers if c.member and c.tenure_days > 0]
        done = 0
        gate = asyncio.Semaphore(parallel)

        async def one(c: Customer) -> None:
            nonlocal done
            async with gate:
                await self._enroll(c.ref)
                for n, past in enumerate(plan.history(self.w.seed, self.w.day, self.w.zone, c)):
                    await self._record(c.ref, past.type, dict(past.attributes), past.at, f"history-{c.index}-{n}", True)
            done += 1
            on_progress(done, len(members))

        await asyncio.gather(*(one(c) for c in members))
        self.tally.levels_at_start = dict(self.tally.levels)

    async def run(self, events: list[Event], on_progress: Callable[[int, int], None]) -> None:
        queue = list(events)
        heapq.heapify(queue)
        total, done = len(queue), 0
        while queue:
            event = heapq.heappop(queue)
            if event.at > self.clock.now():
                self.clock.set(event.at)
            follow_ups = await self._handlers[event.kind](event)
            for follow in follow_ups:
                heapq.heappush(queue, follow)
            total += len(follow_ups)
            done += 1
            on_progress(done, total)
        self.clock.set(max(self.clock.now(), self.w.last_minute))
        self.tally.settled_deliveries += await self.settle()

    # --- the router: applicants and loans drawn ---------------------------------------------------------

    def _route_request(self, a: Applicant, at: datetime) -> router_pb2.RouteApplicantRequest:
        tag = router_pb2.TagValue
        digest = hashlib.sha256(f"{self.w.seed}:phone:{a.index}".encode()).hexdigest()
        return router_pb2.RouteApplicantRequest(
            idempotency_key=self._key("route"),
            channel=a.channel,
            scenario=a.scenario,
            applicant=types_pb2.CustomerRef(ref=a.ref),
            device_ref=f"dev_{digest[:20]}",
            phone_hash=digest,
            consents=[
                router_pb2.ConsentRecord(
                    recipient_classes=list(a.consent_classes),
                    purposes=["loan_referral"],
                    granted_at=stamp(at - timedelta(minutes=3)),
                )
            ],
            tags={
                "age": tag(int_value=a.age),
                "region": tag(string_value=a.region),
                "income_band": tag(string_value=a.income_band),
                "asset_tier": tag(string_value=a.asset_tier),
                "external_credit_score": tag(int_value=a.credit_score),
                "travel_frequency": tag(int_value=a.travel_frequency),
                "existing_customer": tag(bool_value=a.existing_customer),
                "has_credit_card": tag(bool_value=a.has_credit_card),
                "payroll_customer": tag(bool_value=a.payroll_customer),
                "frequent_flyer_level": tag(string_value=a.flyer_level),
                "months_since_last_trip": tag(int_value=a.months_since_last_trip),
            },
            requested_amount=types_pb2.Money(fen=a.amount_fen),
            term_months=a.term_months,
        )

    async def _apply(self, event: Event) -> list[Event]:
        a = self.w.applicants[event.who]
        d = await self._call("RouteApplicant", self.stubs.router.RouteApplicant(self._route_request(a, event.at)))
        if isinstance(d, str):
            return []
        t = self.tally
        t.applicants += 1
        if d.sticky:
            t.sticky += 1
            return []
        destination = router_pb2.Destination.Name(d.destination).removeprefix("DESTINATION_")
        t.by_channel[(a.channel, destination)] += 1
        t.by_tier[d.tier] += 1
        if d.destination == router_pb2.DESTINATION_DECLINED and d.reasons:
            t.decline_reasons[d.reasons[0].code] += 1
        if d.HasField("partner") and d.partner.lead_id:
            t.leads.append(LeadSeen(d.partner.lead_id, a.channel, d.tier, a.index))
        if d.destination == router_pb2.DESTINATION_IN_HOUSE:
            t.in_house.append((d.decision_id, a.index))
            if a.draws_if_approved:
                later = self.w.later(event.at, a.draw_delay_minutes)
                return [self._follow(later, plan.DRAW, a.index, data=(d.decision_id,))]
        return []

    async def _draw(self, event: Event) -> list[Event]:
        """The applicant draws the in-house travel loan: the bank's loan system reports it to the router, and
        the growth programme rewards it (pending through the cooling-off period)."""
        a = self.w.applicants[event.who]
        await self._call(
            "RecordLoanDrawn",
            self.stubs.router.RecordLoanDrawn(
                router_pb2.RecordLoanDrawnRequest(
                    idempotency_key=self._key("drawn"),
                    decision_id=str(event.data[0]),
                    amount=types_pb2.Money(fen=a.amount_fen),
                    drawn_at=stamp(event.at),
                )
            ),
        )
        if a.ref not in self.members:
            self.tally.new_members += 1
        await self._enroll(a.ref)
        attributes = {"product": "travel_loan", "amount_fen": str(a.amount_fen)}
        if not isinstance(await self._record(a.ref, "loan_drawn", attributes, event.at, f"loan-{a.index}"), str):
            self.tally.drawn += 1
            self.tally.drawn_fen += a.amount_fen
        return []

    # --- rewards: payment moments, claims, payments -----------------------------------------------------

    def _profile(self, c: Customer) -> rewards_pb2.CustomerProfile:
        return rewards_pb2.CustomerProfile(
            asset_tier=c.asset_tier,
            age=c.age,
            payment_interests=list(c.interests),
            channel=c.contact_channel,
            monthly_payment_count=c.payments_per_month,
            monthly_payment_amount=types_pb2.Money(fen=c.monthly_payment_fen),
        )

    async def _moment(self, event: Event) -> list[Event]:
        c, scene, t = self.w.customers[event.who], event.detail, self.tally
        rng = rng_for(self.w.seed, "moment", c.index, event.at.isoformat(), scene)
        offer = await self._call(
            "Offer",
            self.stubs.rewards.Offer(
                rewards_pb2.OfferRequest(
                    idempotency_key=self._key("offer"),
                    customer=types_pb2.CustomerRef(ref=c.ref),
                    scene=scene,
                    profile=self._profile(c),
                )
            ),
        )
        if isinstance(offer, str):
            return []
        t.moments[scene] += 1
        t.outcomes[rewards_pb2.OfferOutcome.Name(offer.outcome)] += 1
        coupon: tuple[str, int, int] | None = None
        if offer.outcome == rewards_pb2.OFFERED:
            t.offered_arms[(offer.campaign_id, offer.arm.id)] += 1
            discount, threshold = offer.arm.discount.fen, offer.arm.threshold.fen
            if rng.random() < world.claim_probability(c, discount, threshold):
                coupon = await self._claim(c, offer.offer_id, discount, threshold)
        elif offer.outcome == rewards_pb2.NOT_OFFERED:
            t.not_offered[offer.reason] += 1
        chance = world.pay_probability(c, (coupon[1], coupon[2]) if coupon else None)
        if rng.random() >= chance:
            return []
        minutes = rng.uniform(10, 180) if coupon else rng.uniform(2, 40)
        data = coupon or ("", 0, 0)
        return [self._follow(self.w.later(event.at, minutes), plan.PAY, c.index, scene, data)]

    async def _claim(self, c: Customer, offer_id: str, discount: int, threshold: int) -> tuple[str, int, int] | None:
        claimed = await self._call(
            "Claim",
            self.stubs.rewards.Claim(
                rewards_pb2.ClaimRequest(
                    idempotency_key=self._key("claim"), customer=types_pb2.CustomerRef(ref=c.ref), offer_id=offer_id
                )
            ),
            expected=("BUDGET_EXHAUSTED", "DAILY_BUDGET_EXHAUSTED", "CLAIM_LIMIT"),
        )
        if isinstance(claimed, str):
            self.tally.claim_refusals[claimed] += 1
            return None
        self.tally.claims += 1
        return claimed.coupon.coupon_id, discount, threshold

    async def _pay(self, event: Event) -> list[Event]:
        c, scene, t = self.w.customers[event.who], event.detail, self.tally
        coupon_id, threshold = str(event.data[0]), int(str(event.data[2]))  # data: (coupon id, discount, threshold)
        rng = rng_for(self.w.seed, "pay", c.index, event.at.isoformat(), scene)
        amount = world.order_amount(c, rng, threshold if coupon_id else 0)
        order_id = f"demo-{self.w.seed}-order-{event.seq}"
        if coupon_id and await self._redeem(c, coupon_id, order_id, amount, scene):
            t.coupon_gmv_fen += amount
        else:
            paid = await self._call(
                "RecordPayment",
                self.stubs.rewards.RecordPayment(
                    rewards_pb2.RecordPaymentRequest(
                        idempotency_key=self._key("payment"),
                        customer=types_pb2.CustomerRef(ref=c.ref),
                        scene=scene,
                        order_id=order_id,
                        amount=types_pb2.Money(fen=amount),
                    )
                ),
            )
            if isinstance(paid, str):
                return []
            t.plain_payments += 1
            t.plain_gmv_fen += amount
        t.paying_customers.add(c.index)
        if c.member:
            await self._ensure_member(c, event.at)
            growth_scene = next((GROWTH_SCENE[i] for i in c.interests if i in GROWTH_SCENE), "")
            attributes = {"amount_fen": str(amount), "scene": growth_scene if scene == "travel" else scene}
            await self._record(c.ref, "card_payment", attributes, event.at, f"pay-{event.seq}")
        return []

    async def _redeem(self, c: Customer, coupon_id: str, order_id: str, amount: int, scene: str) -> bool:
        done = await self._call(
            "Redeem",
            self.stubs.rewards.Redeem(
                rewards_pb2.RedeemRequest(
                    idempotency_key=self._key("redeem"),
                    customer=types_pb2.CustomerRef(ref=c.ref),
                    coupon_id=coupon_id,
                    order_id=order_id,
                    order_amount=types_pb2.Money(fen=amount),
                    scene=scene,
                )
            ),
            expected=("COUPON_EXPIRED", "SCENE_NOT_ALLOWED", "BELOW_THRESHOLD", "MERCHANT_NOT_ALLOWED"),
        )
        if isinstance(done, str):
            self.tally.redeem_refusals[done] += 1
            return False
        self.tally.redeemed += 1
        self.tally.discount_fen += done.discount.fen
        return True

    # --- growth: members, activities, rights ------------------------------------------------------------

    async def _enroll(self, ref: str) -> None:
        if ref in self.members:
            return
        member = await self._call(
            "EnrollMember",
            self.stubs.growth.EnrollMember(
                growth_pb2.EnrollMemberRequest(
                    idempotency_key=self._key("enroll"), customer=types_pb2.CustomerRef(ref=ref)
                )
            ),
        )
        if not isinstance(member, str):
            self.members.add(ref)
            self.tally.enrolled += 1
            self.tally.level(ref, member.level)

    async def _ensure_member(self, c: Customer, at: datetime) -> None:
        """A member who joined today enrols at their first visit and gets the first-login bonus."""
        if c.ref in self.members:
            return
        self.tally.new_members += 1
        await self._enroll(c.ref)
        await self._record(c.ref, "app_login", {}, at, f"first-login-{c.index}")

    async def _record(
        self, ref: str, kind: str, attributes: dict[str, str], at: datetime, event_id: str, history: bool = False
    ) -> growth_pb2.RecordActivityResponse | str:
        done = await self._call(
            f"RecordActivity {kind}",
            self.stubs.growth.RecordActivity(
                growth_pb2.RecordActivityRequest(
                    idempotency_key=self._key("activity"),
                    customer=types_pb2.CustomerRef(ref=ref),
                    activity=growth_pb2.Activity(
                        source="demo",
                        id=f"{self.w.seed}-{event_id}",
                        type=kind,
                        occurred_at=stamp(at),
                        attributes=attributes,
                    ),
                )
            ),
        )
        if isinstance(done, str):
            return done
        t = self.tally
        t.level(ref, done.level)
        if history:
            t.history_activities += 1
            return done
        t.activities[kind] += 1
        t.active_members.add(ref)
        for award in done.awards:
            if award.pending:
                t.points_pending += award.points
            else:
                t.points_issued += award.points
            t.growth_issued += award.growth
            t.award_kinds[award.kind] += 1
            t.earning_members.add(award.customer.ref)
        return done

    async def _sign_in(self, event: Event) -> list[Event]:
        c = self.w.customers[event.who]
        await self._ensure_member(c, event.at)
        await self._record(c.ref, "sign_in", {}, event.at, f"sign-in-{c.index}-{event.at:%Y%m%d}")
        return []

    async def _activity(self, event: Event) -> list[Event]:
        c = self.w.customers[event.who]
        await self._ensure_member(c, event.at)
        attributes = {
            "deposit_balance": {"balance_fen": "1200000"},
            "wealth_purchase": {"amount_fen": "200000"},
            "loan_repayment": {"on_time": "true"},
        }.get(event.detail, {})
        await self._record(c.ref, event.detail, attributes, event.at, f"{event.detail}-{c.index}-{event.seq}")
        return []

    async def _rights(self, event: Event) -> list[Event]:
        """A member looks at the rights catalogue and, if something is within reach, redeems it."""
        c, t = self.w.customers[event.who], self.tally
        await self._ensure_member(c, event.at)
        ref = types_pb2.CustomerRef(ref=c.ref)
        catalogue = await self._call(
            "ListRights", self.stubs.growth.ListRights(growth_pb2.ListRightsRequest(customer=ref))
        )
        if isinstance(catalogue, str):
            return []
        t.rights_browsed += 1
        t.active_members.add(c.ref)
        eligible = {r.id: r for r in catalogue.rights if r.eligible}
        if not eligible:
            return []
        rng = rng_for(self.w.seed, "rights", c.index)
        preferred = [r for r in TRAVEL_RIGHTS_FIRST if r in eligible] or sorted(eligible)
        right = eligible[preferred[0] if rng.random() < 0.7 else rng.choice(sorted(eligible))]
        held = await self._call(
            "RedeemRight",
            self.stubs.growth.RedeemRight(
                growth_pb2.RedeemRightRequest(
                    idempotency_key=self._key("redeem-right"), customer=ref, right_id=right.id
                )
            ),
            expected=("QUOTA_EXCEEDED", "OUT_OF_STOCK", "INSUFFICIENT_POINTS", "LEVEL_NOT_ELIGIBLE"),
        )
        if isinstance(held, str):
            t.rights_refusals[held] += 1
            return []
        confirmed = await self._call(
            "ConfirmRedemption",
            self.stubs.growth.ConfirmRedemption(
                growth_pb2.ConfirmRedemptionRequest(idempotency_key=self._key("confirm-right"), redemption_id=held.id)
            ),
        )
        if not isinstance(confirmed, str):
            t.rights_redeemed[right.id] += 1
            t.rights_points += confirmed.points
            t.rights_members.add(c.ref)
        return []

    async def _settle(self, event: Event) -> list[Event]:
        self.tally.settled_deliveries += await self.settle()
        return []


def applicants_and_customers(
    seed: int, customers: int, applicants: int, channels: dict[str, list[str]]
) -> tuple[list[Customer], list[Applicant]]:
    people = world.population(seed, customers)
    return people, [world.make_applicant(seed, i, channels, customers) for i in range(applicants)]


def planned(w: World) -> list[Event]:
    return plan.day_plan(w.seed, w.day, w.zone, w.customers, w.applicants, w.scenes)
