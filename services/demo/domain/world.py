"""The simulated world of the demo: the bank's customers, the day's loan applicants and how people behave.

Pure and seeded: every draw comes from a generator keyed by the seed and by what is being decided (this
customer, this moment), never from a shared stream, so a person's choices do not depend on the order the
services answer in. The services never read any of this; they only see the calls it leads to.

Behaviour (the truth the rewards policy has to learn):
- a customer at a payment moment pays with a base probability that grows with how often they pay;
- a coupon raises it by an amount that depends on the discount's share of the threshold, on how far the
  threshold is above what the customer usually spends, and on the kind of customer: dormant customers
  wake up for a coupon, small-ticket customers like one, affluent ones less, regulars pay anyway;
- a customer who pays with a claimed coupon spends at least its threshold.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass

# Rewards' customer tags (seed 000's dimensions) and the router's tag values for the same person.
ASSET_TIERS = (("mass", 0.65), ("affluent", 0.25), ("wealth", 0.10))
ROUTER_ASSET = {"mass": "basic", "affluent": "ten_thousand", "wealth": "private"}
CONTACT_CHANNELS = (("app", 0.5), ("wechat", 0.25), ("sms", 0.15), ("ai_call", 0.10))
INTERESTS = ("dining", "food_delivery", "travel", "ride_hailing", "rail", "shopping", "groceries")
SCENE_OF_INTEREST = {
    "dining": "restaurant",
    "food_delivery": "restaurant",
    "travel": "travel",
    "ride_hailing": "travel",
    "rail": "travel",
    "shopping": "mall",
    "groceries": "supermarket",
}
# GB/T 2260 codes: Jinan and Qingdao (Shandong, home of 齐鲁满减), Beijing, Shanghai, Shenzhen, Hangzhou,
# Chengdu, Urumqi.
REGIONS = (("370100", 0.25), ("370200", 0.15), ("110000", 0.15), ("310000", 0.15), ("440300", 0.1),
           ("330100", 0.08), ("510100", 0.08), ("650100", 0.04))  # fmt: skip
INCOME = (("low", 0.2), ("middle", 0.4), ("upper_middle", 0.25), ("high", 0.1), ("none", 0.05))
FLYER = (("none", 0.6), ("silver", 0.25), ("gold", 0.1), ("platinum", 0.05))
# How strongly each kind of customer answers a coupon (the hidden truth).
SENSITIVITY = {"dormant": 1.6, "small_ticket": 1.1, "affluent": 0.7, "regular": 0.25, "other": 0.8}


def rng_for(seed: int, *keys: object) -> random.Random:
    """A generator for one decision: the same seed and keys give the same draws, whatever else happened."""
    return random.Random(":".join(map(str, (seed, *keys))))


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


def opaque_ref(seed: int, kind: str, index: int) -> str:
    """A customer reference as the bank would send it: an opaque hash, never a number of the person."""
    return f"cust_{hashlib.sha256(f'{seed}:{kind}:{index}'.encode()).hexdigest()[:24]}"


@dataclass(frozen=True)
class Customer:
    index: int
    ref: str
    age: int
    asset_tier: str  # mass, affluent, wealth
    interests: tuple[str, ...]
    contact_channel: str  # app, wechat, sms, ai_call
    payments_per_month: int
    ticket_fen: int  # what one payment usually comes to
    member: bool  # enrolled in the growth programme (a bank-app user)
    tenure_days: int  # how long they have been a member
    saver: bool  # keeps ¥10k+ on deposit (monthly deposit milestones)
    investor: bool  # has bought wealth products
    borrower: bool  # repays a loan every month

    @property
    def monthly_payment_fen(self) -> int:
        return self.payments_per_month * self.ticket_fen

    @property
    def kind(self) -> str:
        """The hidden behaviour type (close to, but not the same as, rewards' configured segments)."""
        if self.payments_per_month == 0:
            return "dormant"
        if self.asset_tier != "mass":
            return "affluent"
        if self.payments_per_month >= 8:
            return "regular"
        if self.monthly_payment_fen <= 100_000:
            return "small_ticket"
        return "other"

    @property
    def base_pay(self) -> float:
        """Chance of paying at a payment moment without a coupon."""
        return min(0.8, 0.06 + 0.025 * self.payments_per_month)


def make_customer(seed: int, index: int) -> Customer:
    rng = rng_for(seed, "customer", index)
    dormant = rng.random() < 0.22
    count = 0 if dormant else max(1, min(30, round(rng.lognormvariate(1.6, 0.7))))
    ticket = int(round(rng.lognormvariate(math.log(14_000), 0.6), -2))
    interests = tuple(sorted(rng.sample(INTERESTS, k=rng.randint(1, 3))))
    asset = _pick(rng, ASSET_TIERS)
    tenure = rng.randint(0, 85)
    return Customer(
        index=index,
        ref=opaque_ref(seed, "customer", index),
        age=max(18, min(75, round(rng.triangular(19, 72, 34)))),
        asset_tier=asset,
        interests=interests,
        contact_channel=_pick(rng, CONTACT_CHANNELS),
        payments_per_month=count,
        ticket_fen=max(1_000, ticket),
        member=rng.random() < 0.85,
        tenure_days=tenure,
        saver=asset != "mass" or rng.random() < 0.15,
        investor=asset != "mass" and rng.random() < 0.5,
        borrower=rng.random() < 0.3,
    )


def population(seed: int, size: int) -> list[Customer]:
    return [make_customer(seed, i) for i in range(size)]


def scenes_of(customer: Customer, scenes: tuple[str, ...]) -> list[str]:
    """The payment scenes a customer goes to (their interests' scenes, or the supermarket)."""
    liked = sorted({SCENE_OF_INTEREST[i] for i in customer.interests} & set(scenes))
    return liked or [scenes[0]]


def claim_probability(customer: Customer, discount_fen: int, threshold_fen: int) -> float:
    """Chance of claiming an offered coupon: most people take a free coupon, more so a generous one."""
    return min(0.95, 0.55 + 1.5 * discount_fen / threshold_fen + (0.1 if customer.kind == "dormant" else 0.0))


def pay_probability(customer: Customer, coupon: tuple[int, int] | None) -> float:
    """Chance of paying at this moment, with (discount, threshold) in hand or without a coupon."""
    base = customer.base_pay
    if coupon is None:
        return base
    discount, threshold = coupon
    reach = min(1.0, 2.0 * customer.ticket_fen / threshold)  # a threshold far above the usual ticket deters
    lift = min(0.6, SENSITIVITY[customer.kind] * 2.5 * discount / threshold * reach)
    return base + (1 - base) * lift


def order_amount(customer: Customer, rng: random.Random, threshold_fen: int = 0) -> int:
    """What a payment comes to: around the usual ticket, at least the threshold when a coupon is used."""
    amount = int(round(customer.ticket_fen * rng.lognormvariate(0, 0.35), -2))
    if threshold_fen:
        amount = max(amount, threshold_fen + int(round(rng.uniform(0, 0.3) * threshold_fen, -2)))
    return max(500, amount)


@dataclass(frozen=True)
class Applicant:
    """A loan applicant arriving through a channel app (partners' channels, the bank's own)."""

    index: int
    ref: str
    channel: str
    scenario: str
    age: int
    region: str
    income_band: str
    asset_tier: str  # the router's values
    credit_score: int
    travel_frequency: int
    existing_customer: bool
    has_credit_card: bool
    payroll_customer: bool
    flyer_level: str
    months_since_last_trip: int
    amount_fen: int
    term_months: int
    consent_classes: tuple[str, ...]
    draws_if_approved: bool  # draws an approved in-house loan
    draw_delay_minutes: int
    member_index: int | None  # the bank customer this applicant is, if any


# Channel mix of the day's applicants, by the router's configured channels.
CHANNEL_WEIGHTS = {"ceair_app": 0.3, "ctrip_app": 0.25, "bank_app": 0.2, "sms_landing": 0.15, "wechat_mini": 0.1}
CREDIT_MEAN = {"ceair_app": 680, "ctrip_app": 665, "bank_app": 700, "sms_landing": 610, "wechat_mini": 640}


def make_applicant(seed: int, index: int, channels: dict[str, list[str]], customers: int) -> Applicant:
    rng = rng_for(seed, "applicant", index)
    names = list(channels)
    channel = rng.choices(names, weights=[CHANNEL_WEIGHTS.get(c, 0.1) for c in names])[0]
    existing = channel == "bank_app" or rng.random() < 0.2
    member = rng.randrange(customers) if existing and customers else None
    classes = ("consumer_finance", "licensed_bank") if rng.random() < 0.85 else ("licensed_bank",)
    return Applicant(
        index=index,
        ref=opaque_ref(seed, "customer", member) if member is not None else opaque_ref(seed, "applicant", index),
        channel=channel,
        scenario=rng.choice(channels[channel]),
        age=max(18, min(70, round(rng.triangular(18, 68, 31)))),
        region=_pick(rng, REGIONS),
        income_band=_pick(rng, INCOME),
        asset_tier=rng.choice(("none", "basic", "basic", "ten_thousand", "private")),
        credit_score=max(300, min(900, round(rng.gauss(CREDIT_MEAN.get(channel, 630), 75)))),
        travel_frequency=max(0, round(rng.expovariate(1 / 5))),
        existing_customer=existing,
        has_credit_card=rng.random() < 0.55,
        payroll_customer=existing and rng.random() < 0.4,
        flyer_level=_pick(rng, FLYER),
        months_since_last_trip=rng.randint(0, 24),
        amount_fen=int(rng.choice((3_000, 5_000, 8_000, 10_000, 15_000, 20_000, 30_000, 50_000)) * 100),
        term_months=rng.choice((3, 6, 12, 12, 24)),
        consent_classes=classes,
        draws_if_approved=rng.random() < 0.7,
        draw_delay_minutes=rng.randint(5, 240),
        member_index=member,
    )
