"""The day's plan: who comes when, and the history members bring into the day. Pure and seeded.

Times follow the shape of a weekday in the bank's time zone: applicants through the day with an evening
peak, payments around meals and in the evening (a few at night, inside the campaigns' quiet hours), sign-ins
in the morning. The plan holds the events known in advance; what people do next (pay later with the coupon
they claimed, draw the loan they were approved for) is added by the driver as the day unfolds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.demo.domain.world import Applicant, Customer, rng_for, scenes_of

APPLY, MOMENT, PAY, SIGN_IN, ACTIVITY, RIGHTS, DRAW, SETTLE = (
    "apply", "moment", "pay", "sign_in", "activity", "rights", "draw", "settle",
)  # fmt: skip

# Relative traffic per local hour 0..23.
APPLICANT_HOURS = (1, 1, 0, 0, 0, 1, 2, 4, 6, 8, 10, 10, 9, 8, 8, 8, 8, 9, 10, 11, 12, 12, 9, 4)
PAYMENT_HOURS = (1, 0, 0, 0, 0, 0, 1, 4, 7, 5, 5, 8, 12, 11, 6, 5, 5, 7, 11, 12, 11, 8, 3, 2)
SIGN_IN_HOURS = (0, 0, 0, 0, 0, 1, 4, 10, 12, 8, 5, 4, 5, 4, 3, 3, 3, 3, 4, 5, 6, 6, 4, 2)
SETTLE_EVERY = timedelta(minutes=15)


@dataclass(frozen=True, order=True)
class Event:
    at: datetime
    seq: int
    kind: str = field(compare=False)
    who: int = field(compare=False, default=-1)  # customer or applicant index
    detail: str = field(compare=False, default="")  # scene, activity type
    data: tuple[object, ...] = field(compare=False, default=())


@dataclass(frozen=True)
class PastActivity:
    """An activity a member did before the demo day (replayed at start so members bring their balances)."""

    at: datetime
    type: str
    attributes: tuple[tuple[str, str], ...]


def at_hour(rng: random.Random, day: date, zone: ZoneInfo, profile: tuple[int, ...]) -> datetime:
    hour = rng.choices(range(24), weights=profile)[0]
    return datetime.combine(day, time(hour, rng.randrange(60), rng.randrange(60)), tzinfo=zone)


def _moments(customer: Customer, rng: random.Random) -> int:
    if customer.payments_per_month == 0:
        return 1 if rng.random() < 0.7 else 0
    extra = sum(1 for _ in range(3) if rng.random() < min(0.8, customer.payments_per_month / 15))
    return 1 + extra


def day_plan(
    seed: int,
    day: date,
    zone: ZoneInfo,
    customers: list[Customer],
    applicants: list[Applicant],
    scenes: tuple[str, ...],
) -> list[Event]:
    """The events known at the start of the day, in time order (ties by sequence)."""
    plan: list[tuple[datetime, str, int, str]] = []
    for a in applicants:
        plan.append((at_hour(rng_for(seed, "apply-at", a.index), day, zone, APPLICANT_HOURS), APPLY, a.index, ""))
    for c in customers:
        plan.extend(_customer_day(seed, day, zone, c, scenes))
    start = datetime.combine(day, time(), tzinfo=zone)
    settles = [(start + SETTLE_EVERY * (i + 1), SETTLE, -1, "") for i in range(int(timedelta(days=1) / SETTLE_EVERY))]
    ordered = sorted([*plan, *settles[:-1]], key=lambda e: (e[0], e[1], e[2], e[3]))
    return [Event(at, i, kind, who, detail) for i, (at, kind, who, detail) in enumerate(ordered)]


def _customer_day(
    seed: int, day: date, zone: ZoneInfo, c: Customer, scenes: tuple[str, ...]
) -> list[tuple[datetime, str, int, str]]:
    rng = rng_for(seed, "day", c.index)
    events = []
    liked = scenes_of(c, scenes)
    for _ in range(_moments(c, rng)):
        scene = rng.choice(liked) if rng.random() < 0.8 else rng.choice(scenes)
        events.append((at_hour(rng, day, zone, PAYMENT_HOURS), MOMENT, c.index, scene))
    if not c.member:
        return events
    if rng.random() < min(0.9, 0.35 + 0.02 * c.payments_per_month):
        events.append((at_hour(rng, day, zone, SIGN_IN_HOURS), SIGN_IN, c.index, ""))
    for kind, chance in _activity_chances(c):
        if rng.random() < chance:
            events.append((at_hour(rng, day, zone, PAYMENT_HOURS), ACTIVITY, c.index, kind))
    if c.tenure_days >= 20 and rng.random() < 0.15:
        events.append((at_hour(rng, day, zone, SIGN_IN_HOURS), RIGHTS, c.index, ""))
    return events


def _activity_chances(c: Customer) -> list[tuple[str, float]]:
    travel = bool({"travel", "rail", "ride_hailing"} & set(c.interests))
    return [
        ("trip_shared", 0.12 if travel else 0.02),
        ("insurance_purchase", 0.05 if travel else 0.01),
        ("deposit_balance", 0.08 if c.saver else 0.0),
        ("loan_repayment", 0.06 if c.borrower else 0.0),
        ("wealth_purchase", 0.03 if c.investor else 0.005),
        ("profile_completed", 0.5 if c.tenure_days == 0 else 0.0),
    ]


def history(seed: int, day: date, zone: ZoneInfo, c: Customer) -> list[PastActivity]:
    """What a member did since enrolling (at most 85 days ago): first login, profile, monthly deposit
    milestones, monthly loan repayments, travel insurance, a first wealth purchase, card payments (some in the
    travel scene)."""
    if not c.member or c.tenure_days == 0:
        return []
    rng = rng_for(seed, "history", c.index)
    start = datetime.combine(day, time(9), tzinfo=zone)

    def days_ago(n: int) -> datetime:
        return start - timedelta(days=n, minutes=rng.randrange(600))

    past = [PastActivity(days_ago(c.tenure_days), "app_login", ())]
    if rng.random() < 0.6:
        past.append(PastActivity(days_ago(max(1, c.tenure_days - 1)), "profile_completed", ()))
    if c.saver:
        past.extend(
            PastActivity(days_ago(n), "deposit_balance", (("balance_fen", str(1_200_000)),))
            for n in range(max(1, c.tenure_days - 2), 0, -30)
        )
    if c.borrower:
        past.extend(
            PastActivity(days_ago(n), "loan_repayment", (("on_time", "true"),))
            for n in range(max(1, c.tenure_days - 5), 0, -30)
        )
    if c.investor:
        past.append(
            PastActivity(days_ago(rng.randint(1, c.tenure_days)), "wealth_purchase", (("amount_fen", "200000"),))
        )
    for _ in range(min(3, c.tenure_days // 20 + c.payments_per_month // 8)):
        amount = min(500_000, c.ticket_fen * rng.randint(4, 25))
        past.append(
            PastActivity(days_ago(rng.randint(1, c.tenure_days)), "card_payment", (("amount_fen", str(amount)),))
        )
    if {"travel", "rail", "ride_hailing"} & set(c.interests):
        past.extend(
            PastActivity(days_ago(n), "insurance_purchase", ()) for n in range(max(1, c.tenure_days - 4), 0, -25)
        )
    if {"travel", "rail"} & set(c.interests) and c.tenure_days > 7:
        scene = "airline" if "travel" in c.interests else "rail"
        attrs = (("amount_fen", str(rng.randint(6, 30) * 10_000)), ("scene", scene))
        past.append(PastActivity(days_ago(rng.randint(1, c.tenure_days)), "card_payment", attrs))
    return sorted(past, key=lambda p: p.at)
