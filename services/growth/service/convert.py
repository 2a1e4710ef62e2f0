"""Mapping between growth rows/results and skylane.growth.v1 messages.

In the service layer because RecordActivity stores the response it answers with the event (a replay
answers it again), so that use case maps its own result; the servicers map the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from services.common.outbox import StoredEvent
from services.growth.domain.awards import ActivityResult
from services.growth.domain.catalogue import RightView
from services.growth.domain.standing import Progress
from services.growth.models import EntryRow, HoldRow, LotRow, MemberRow, RedemptionRow, TransactionRow
from services.growth.service.members import BalanceView, StatementView
from services.growth.store.ledger import PostedEntry, PostedTransaction
from skylane.common.v1 import types_pb2
from skylane.growth.v1 import growth_pb2

ASSETS = {"points": growth_pb2.ASSET_POINTS, "growth": growth_pb2.ASSET_GROWTH}


def ts(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value.astimezone(UTC))
    return out


def customer(ref: str) -> types_pb2.CustomerRef:
    return types_pb2.CustomerRef(ref=ref)


def activity_response(result: ActivityResult, version: str, dry_run: bool) -> growth_pb2.RecordActivityResponse:
    return growth_pb2.RecordActivityResponse(
        awards=[
            growth_pb2.Award(
                task_id=a.task_id,
                customer=customer(a.customer),
                points=a.points,
                growth=a.growth,
                kind=a.kind,
                pending=a.pending,
                hold_id="" if dry_run else a.hold_id,
                transaction_id="" if dry_run else a.transaction_id,
            )
            for a in result.awards
        ],
        skipped=[growth_pb2.SkippedTask(task_id=t, reason=r) for t, r in result.skipped],
        config_version=version,
        level=result.level,
        dry_run=dry_run,
    )


def stored_activity_response(result: ActivityResult, *, dry_run: bool) -> growth_pb2.RecordActivityResponse:
    """The response stored with an event, answered again (marked as a duplicate) for a replay of it."""
    stored = growth_pb2.RecordActivityResponse.FromString(result.stored_response or b"")
    stored.duplicate = True
    if dry_run:
        stored.dry_run = True
    return stored


def preview_response(result: ActivityResult, version: str) -> growth_pb2.RecordActivityResponse:
    if result.duplicate:
        return stored_activity_response(result, dry_run=True)
    return activity_response(result, version, dry_run=True)


def member(customer_ref: str, row: MemberRow, level: str) -> growth_pb2.Member:
    return growth_pb2.Member(
        customer=customer(customer_ref),
        level=level,
        enrolled_at=ts(row.enrolled_at),
        referrer=customer(row.referrer or ""),
    )


def balance(view: BalanceView) -> growth_pb2.Balance:
    return growth_pb2.Balance(
        customer=customer(view.customer),
        points_available=view.points_available,
        points_held=view.points_held,
        points_pending=view.points_pending,
        growth_total=view.growth_total,
        level=view.level,
    )


def statement(view: StatementView) -> growth_pb2.Statement:
    page = view.history
    return growth_pb2.Statement(
        balance=balance(view.balance),
        lots=[lot(row) for row in view.lots],
        holds=[hold(h) for h in view.holds],
        level=progress(view.progress),
        history=[transaction(t, view.entries.get(t.id, [])) for t in page],
        page=types_pb2.PageInfo(next_page_token=str(page[-1].id) if view.more else ""),
    )


def expiries(grouped: list[tuple[datetime, int]]) -> growth_pb2.ListExpiriesResponse:
    return growth_pb2.ListExpiriesResponse(
        expiries=[growth_pb2.Expiry(expires_at=ts(at), points=n) for at, n in grouped]
    )


def right(rv: RightView) -> growth_pb2.Right:
    return growth_pb2.Right(
        id=rv.right.id,
        name=rv.right.name,
        category=rv.right.category,
        points_price=rv.right.points_price,
        min_level=rv.right.min_level,
        stock_left=rv.stock_left,
        eligible=rv.eligible,
        ineligible_reason=rv.reason,
        quota_left=rv.quota_left,
        validity_days=rv.right.validity_days,
    )


def event(row: StoredEvent) -> growth_pb2.GrowthEvent:
    return growth_pb2.GrowthEvent(
        sequence=row.seq,
        type=row.type,
        customer=customer(row.customer),
        emitted_at=ts(row.occurred_at),
        data=row.data,
    )


def hold(row: HoldRow) -> growth_pb2.Hold:
    return growth_pb2.Hold(
        id=row.id,
        customer=customer(row.member),
        points=row.points,
        kind=row.kind,
        status=row.status,
        expires_at=ts(row.expires_at),
        on_timeout=row.on_timeout,
        reason=row.reason or "",
        transaction_id=str(row.open_txn_id),
        closing_transaction_id=str(row.close_txn_id) if row.close_txn_id else "",
    )


def lot(row: LotRow) -> growth_pb2.Lot:
    return growth_pb2.Lot(
        id=str(row.id),
        original=row.original,
        remaining=row.remaining,
        expires_at=ts(row.expires_at),
        created_at=ts(row.created_at),
        transaction_id=str(row.txn_id) if row.txn_id else "",
    )


def entry(row: EntryRow | PostedEntry) -> growth_pb2.Entry:
    owner = "member" if row.member else "system"
    return growth_pb2.Entry(
        account=f"{owner}:{row.account}",
        asset=ASSETS[row.asset],
        amount=row.amount,
        lot_id=str(row.lot_id) if row.lot_id else "",
    )


def transaction(
    row: TransactionRow | PostedTransaction, entries: Sequence[EntryRow | PostedEntry] | None = None
) -> growth_pb2.LedgerTransaction:
    return growth_pb2.LedgerTransaction(
        id=str(row.id),
        kind=row.kind,
        customer=customer(row.member),
        points=row.points,
        growth=row.growth,
        posted_at=ts(row.posted_at),
        event_source=row.event_source or "",
        event_id=row.event_id or "",
        task_id=row.task_id or "",
        config_version=row.config_version,
        operator=row.operator or "",
        reason=row.reason or "",
        reverses=str(row.reverses) if row.reverses else "",
        entries=[entry(e) for e in entries or []],
    )


def progress(p: Progress) -> growth_pb2.LevelProgress:
    return growth_pb2.LevelProgress(
        level=p.level,
        earned_level=p.earned_level,
        window_growth=p.window_growth,
        next_level=p.next_level,
        growth_to_next=p.growth_to_next,
        growth_to_keep=p.growth_to_keep,
        next_review_at=ts(p.next_review_at),
        grace_until=ts(p.grace_until),
        override_level=p.override_level,
        override_until=ts(p.override_until),
        override_reason=p.override_reason,
    )


def redemption(row: RedemptionRow) -> growth_pb2.Redemption:
    return growth_pb2.Redemption(
        id=row.id,
        customer=customer(row.member),
        right_id=row.right_id,
        voucher_code=row.voucher_code,
        points=row.points,
        status=row.status,
        hold_id=row.hold_id,
        valid_until=ts(row.valid_until),
        created_at=ts(row.created_at),
        used_by=row.used_by or "",
    )
