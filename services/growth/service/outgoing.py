"""The growth events other services and outside systems consume (docs/events.md), each written in the unit
of work of its change: points_earned (an activity's awards, per customer), right_redeemed (a confirmed
redemption). level_changed and the expiry events are written where levels and lots change (levels.py,
maintenance.py)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.outbox import emit
from services.growth.domain.awards import ActivityIn, ActivityResult
from services.growth.models import RedemptionRow
from services.growth.service.context import Deps


async def points_earned(session: AsyncSession, deps: Deps, activity: ActivityIn, result: ActivityResult) -> None:
    """One points_earned per customer the activity awarded (the member, and a referrer), pending or not."""
    by_customer: dict[tuple[str, bool], list[int]] = {}
    tasks: dict[tuple[str, bool], list[str]] = {}
    refs: dict[tuple[str, bool], list[str]] = {}
    for award in result.awards:
        group = (award.customer, award.pending)
        sums = by_customer.setdefault(group, [0, 0])
        sums[0] += award.points
        sums[1] += award.growth
        tasks.setdefault(group, []).append(award.task_id)
        refs.setdefault(group, []).append(award.hold_id if award.pending else award.transaction_id)
    for (customer, pending), (points, growth) in by_customer.items():
        if not points and not growth:
            continue
        await emit(
            session,
            deps.dialect,
            type="points_earned",
            customer=customer,
            at=deps.now,
            data={
                "points": str(points),
                "growth": str(growth),
                "pending": "true" if pending else "false",
                "tasks": ",".join(sorted(set(tasks[(customer, pending)]))),
                ("hold_ids" if pending else "transaction_ids"): ",".join(sorted(set(refs[(customer, pending)]))),
                "activity_source": activity.source,
                "activity_id": activity.event_id,
                "activity_type": activity.type,
            },
        )


async def right_redeemed(session: AsyncSession, deps: Deps, row: RedemptionRow) -> None:
    """A redemption confirmed: the points are spent and the voucher is valid."""
    await emit(
        session,
        deps.dialect,
        type="right_redeemed",
        customer=row.member,
        at=deps.now,
        data={
            "redemption_id": row.id,
            "right_id": row.right_id,
            "points": str(row.points),
            "valid_until": row.valid_until.isoformat() if row.valid_until else "",
        },
    )
