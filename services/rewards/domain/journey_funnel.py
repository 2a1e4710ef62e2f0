"""The funnel of one trigger's journey: reached → touched → claimed → redeemed → next product, for the
treated customers and the held-out ones (whose touch is the one they would have had), with the share of
reached customers who converted compared by a difference and its 95% interval, and the time between
steps. Pure: the report feeds it the journey's steps and what became of the offers."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.rewards.domain import holdout, journey, uplift

# Entry-level steps counted as they happened (an entry once per step).
_COUNTED = (journey.SCREENED, journey.REENTRY_BLOCKED, journey.EXITED, journey.DEFERRED, journey.ROUTED)


@dataclass(frozen=True)
class StepRow:
    customer: str
    entry: int
    step: str
    at: datetime
    detail: str


@dataclass
class Steps:
    reached: int = 0
    touched: int = 0
    claimed: int = 0
    redeemed: int = 0
    next_product: int = 0
    converted: int = 0


@dataclass
class Funnel:
    treated: Steps = field(default_factory=Steps)
    holdout: Steps = field(default_factory=Steps)
    counted: dict[str, int] = field(default_factory=dict)  # entries per step of _COUNTED and FOLLOW_UP
    converted_difference: uplift.Estimate = uplift.UNDEFINED
    hours_to_touch: float = 0.0
    hours_touch_to_claim: float = 0.0
    hours_claim_to_redeem: float = 0.0


def decision_of(detail: str) -> str:
    """The decision id a TOUCHED step carries (`<decision id>:<arm or next product>`)."""
    return detail.split(":", 1)[0]


@dataclass
class _Customer:
    entered: list[datetime] = field(default_factory=list)
    touched: list[datetime] = field(default_factory=list)
    decisions: list[tuple[str, datetime]] = field(default_factory=list)


def _hours(pairs: Iterable[tuple[datetime, datetime]]) -> float:
    spans = [(b - a).total_seconds() / 3600 for a, b in pairs]
    return statistics.median(spans) if spans else 0.0


def funnel(
    rows: Iterable[StepRow],
    groups: Mapping[str, str],
    coupons: Mapping[str, tuple[datetime, datetime | None]],
    converted: set[str],
    next_touched: Mapping[str, datetime],
) -> Funnel:
    """`groups`: each customer's holdout group; `coupons`: per decision id, when its coupon was claimed and
    redeemed (None: not yet); `converted`: customers who paid in the campaign; `next_touched`: when a
    wave-2 journey touched a customer first."""
    out, customers = Funnel(), dict[str, _Customer]()
    out.counted = dict.fromkeys((*_COUNTED, journey.FOLLOW_UP), 0)
    for r in rows:
        c = customers.setdefault(r.customer, _Customer())
        if r.step in out.counted:
            out.counted[r.step] += 1
        if r.step == journey.ENTERED:
            c.entered.append(r.at)
        elif r.step in (journey.TOUCHED, journey.WOULD_HAVE_TOUCHED):
            c.touched.append(r.at)
            if r.step == journey.TOUCHED:
                c.decisions.append((decision_of(r.detail), r.at))
    to_touch: list[tuple[datetime, datetime]] = []
    to_claim: list[tuple[datetime, datetime]] = []
    to_redeem: list[tuple[datetime, datetime]] = []
    for ref, c in customers.items():
        if not c.entered:
            continue  # screened out (or blocked) only
        steps = out.holdout if groups.get(ref) == holdout.HOLDOUT else out.treated
        steps.reached += 1
        steps.converted += ref in converted
        if not c.touched:
            continue
        steps.touched += 1
        first = min(c.touched)
        steps.next_product += ref in next_touched and next_touched[ref] >= first
        if steps is out.treated:
            to_touch.append((min(c.entered), first))
        claims = [(at, coupons[d]) for d, at in c.decisions if d in coupons]
        steps.claimed += bool(claims)
        steps.redeemed += any(redeemed is not None for _, (_, redeemed) in claims)
        to_claim.extend((at, claimed) for at, (claimed, _) in claims)
        to_redeem.extend((claimed, redeemed) for _, (claimed, redeemed) in claims if redeemed is not None)
    out.converted_difference = uplift.rate_difference(
        uplift.GroupStats(out.treated.reached, out.treated.converted, 0.0, 0.0),
        uplift.GroupStats(out.holdout.reached, out.holdout.converted, 0.0, 0.0),
    )
    out.hours_to_touch, out.hours_touch_to_claim, out.hours_claim_to_redeem = (
        _hours(to_touch),
        _hours(to_claim),
        _hours(to_redeem),
    )
    return out
