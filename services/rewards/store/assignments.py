"""A customer's assignment to a campaign: the holdout group recorded on first sight, the claims taken and
what they paid in the campaign's scenes afterwards (the uplift report's measurement)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.db import dialect_insert
from services.rewards.domain.budget import Committed
from services.rewards.domain.contact import ContactState, state_on
from services.rewards.store.budget import BUDGET_COLUMNS, committed_of
from services.rewards.store.contacts import CONTACT_COLUMNS
from services.rewards.store.decisions import OFFER_HISTORY_COLUMNS
from services.rewards.store.tables import assignments, moment, param, rowcount

_a = assignments.c

_CLAIM_SLOT = (
    update(assignments)
    .where(_a.campaign_id == param("p_campaign"), _a.customer_ref == param("p_customer"), _a.claims < param("p_limit"))
    .values(claims=_a.claims + 1)
)
_ADD_PAYMENT = (
    update(assignments)
    .where(
        _a.customer_ref == param("p_customer"),
        _a.campaign_id.in_(param("p_campaigns", expanding=True)),
        _a.assigned_at <= moment("p_now"),
    )
    .values(
        payments=_a.payments + param("p_count"),
        value_fen=_a.value_fen + param("p_amount"),
        redemptions=_a.redemptions + param("p_redemption"),
    )
    .returning(_a.campaign_id)
)


@dataclass(frozen=True)
class OfferSnapshot:
    """Everything Offer needs from the database, read in one statement."""

    grp: str  # the recorded holdout group (the first one recorded wins)
    claims: int
    contact_row: tuple[Any, Any, Any]  # opted_out, day_key, recent: judged on the customer's own day
    zone: str | None  # the customer's kept time zone (None: the config zone)
    budget: Committed  # today: the campaign's local day of the offer
    offered: bool  # the campaign offered the customer a coupon before
    open_passes: bool  # visits of theirs passed over within the baseline window have not paid

    def contact(self, day: str) -> ContactState:
        return state_on(*self.contact_row, day)


@cache
def _snapshot(dialect: str) -> Any:
    """The assignment upsert that returns the contact row and the budget counters along (built once)."""
    return (
        dialect_insert(dialect, assignments)
        .values(
            campaign_id=param("p_campaign"),
            customer_ref=param("p_customer"),
            grp=param("p_grp"),
            assigned_at=moment("p_now"),
            claims=0,
            redemptions=0,
            payments=0,
            value_fen=0,
        )
        .on_conflict_do_update(index_elements=[_a.campaign_id, _a.customer_ref], set_={"grp": _a.grp})
        .returning(_a.grp, _a.claims, *CONTACT_COLUMNS, *BUDGET_COLUMNS, *OFFER_HISTORY_COLUMNS)
    )


async def offer_snapshot(
    conn: AsyncConnection,
    dialect: str,
    campaign_id: str,
    customer: str,
    grp: str,
    now: datetime,
    day: str,
    since: datetime,
) -> OfferSnapshot:
    """Records the customer's group on first sight and returns it with the contact and budget state.

    One statement: the assignment upsert (a no-op update when the row exists, so RETURNING always
    yields it) returns the contact row and the budget counters through primary-key subqueries, and the
    customer's offer history in the campaign (`since`: the start of the baseline window) through indexed ones.
    """
    params = {
        "p_campaign": campaign_id,
        "p_customer": customer,
        "p_grp": grp,
        "p_now": now,
        "p_day": day,
        "p_since": since,
    }
    row = (await conn.execute(_snapshot(dialect), params)).one()
    return OfferSnapshot(
        str(row[0]),
        int(row[1]),
        (row[2], row[3], row[4]),
        None if row[5] is None else str(row[5]),
        committed_of(row[6], row[7], row[8]),
        bool(row[9]),
        bool(row[10]),
    )


async def take_claim_slot(conn: AsyncConnection, campaign_id: str, customer: str, limit: int) -> bool:
    result = await conn.execute(_CLAIM_SLOT, {"p_campaign": campaign_id, "p_customer": customer, "p_limit": limit})
    return rowcount(result) == 1


async def add_payment(
    conn: AsyncConnection | AsyncSession,
    campaign_ids: list[str],
    customer: str,
    amount: int,
    now: datetime,
    redemption: int = 0,
) -> list[str]:
    """Counts a payment for the customer's assignments in these campaigns; returns the campaigns counted."""
    if not campaign_ids:
        return []
    params = {
        "p_customer": customer,
        "p_campaigns": campaign_ids,
        "p_now": now,
        "p_count": 1 if amount > 0 else -1,
        "p_amount": amount,
        "p_redemption": redemption,
    }
    result = await conn.execute(_ADD_PAYMENT, params)
    return sorted(str(r[0]) for r in result.all())
