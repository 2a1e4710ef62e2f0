"""gRPC servicers of skylane.growth.v1: validate, run one unit of work, map rows to messages."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from google.protobuf.message import Message
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import FailedPrecondition, Violations
from services.common.validation import check_customer_ref, check_idempotency_key, page_size
from services.growth import convert
from services.growth.activity import ActivityIn, ActivityProcessor, ConcurrentDuplicate, record_once
from services.growth.config import Task
from services.growth.holds import Holds
from services.growth.models import EntryRow, EventRow, HoldRow, LotRow, MemberRow, TransactionRow
from services.growth.rights import Rights
from services.growth.store.ledger import Ledger
from services.growth.store.members import BALANCE_QUERY, effective_level, get_member, member_not_found, progress
from skylane.common.v1 import types_pb2
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc

if TYPE_CHECKING:
    from services.growth.app import GrowthApp

MAX_POINTS = 1_000_000_000

R = TypeVar("R", bound=Message)


class _Rollback(Exception):
    """Carries a dry run's result out of the transaction it must not commit."""

    def __init__(self, result: Any) -> None:
        super().__init__("dry run")
        self.result = result


def _customer(v: Violations, ref: types_pb2.CustomerRef, path: str = "customer.ref") -> str:
    check_customer_ref(v, ref.ref, path)
    return ref.ref


def _text(v: Violations, value: str, path: str, limit: int, *, required: bool = True) -> None:
    if required and not value.strip():
        v.add(path, "required")
    elif len(value) > limit:
        v.add(path, f"at most {limit} characters")


def _points(v: Violations, value: int, path: str = "points") -> None:
    if value <= 0:
        v.add(path, "must be a positive number of points")
    elif value > MAX_POINTS:
        v.add(path, f"at most {MAX_POINTS}")


def _id(v: Violations, value: str, path: str) -> None:
    if not value:
        v.add(path, "required")
    elif len(value) > 64 or not value.isascii():
        v.add(path, "must be at most 64 ASCII characters")


class _Base:
    def __init__(self, app: GrowthApp) -> None:
        self.app = app
        self._task_index: tuple[str, dict[str, list[Task]]] = ("", {})

    @property
    def cfg(self) -> Any:
        return self.app.config.model

    @property
    def version(self) -> str:
        return self.app.config.current.version

    def tasks_for(self, event_type: str) -> list[Task]:
        """Tasks listening to an event type, indexed once per config version (kept in memory)."""
        version = self.version
        if self._task_index[0] != version:
            index: dict[str, list[Task]] = {}
            for task in self.cfg.tasks:
                index.setdefault(task.event_type, []).append(task)
            self._task_index = (version, index)
        return self._task_index[1].get(event_type, [])

    def holds(self, session: Any) -> Holds:
        return Holds(session, self.app.db.dialect, self.cfg, self.version, self.app.clock.now())

    def rights(self, session: Any) -> Rights:
        return Rights(
            session,
            self.app.db.dialect,
            self.cfg,
            self.version,
            self.app.clock.now(),
            self.app.new_id,
            self.app.new_code,
        )


class GrowthServicer(_Base, growth_pb2_grpc.GrowthServiceServicer):
    async def EnrollMember(
        self, request: growth_pb2.EnrollMemberRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Member:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        customer = _customer(v, request.customer)
        referrer = request.referrer.ref
        if request.HasField("referrer"):
            check_customer_ref(v, referrer, "referrer.ref")
            v.check(referrer != customer, "referrer.ref", "a member cannot refer themselves")
        v.raise_if_any()
        now = self.app.clock.now()

        async def work(s: AsyncSession) -> growth_pb2.Member:
            row = (await s.execute(select(MemberRow).where(MemberRow.customer == customer))).scalar_one_or_none()
            if row is None:
                row = MemberRow(
                    customer=customer,
                    level=self.cfg.levels.tiers[0].id,
                    enrolled_at=now,
                    referrer=referrer or None,
                    grace_until=None,
                    override_level=None,
                    override_until=None,
                    override_reason=None,
                    override_operator=None,
                    reviewed_at=None,
                )
                s.add(row)
                await s.flush()
                await Ledger(s, self.app.db.dialect, now).open_accounts(customer)
            return growth_pb2.Member(
                customer=convert.customer(customer),
                level=effective_level(self.cfg, row, now),
                enrolled_at=convert.ts(row.enrolled_at),
                referrer=convert.customer(row.referrer or ""),
            )

        return await self.app.write("GrowthService.EnrollMember", request, growth_pb2.Member, work)

    def _activity(self, v: Violations, activity: growth_pb2.Activity) -> ActivityIn:
        cfg, now = self.cfg, self.app.clock.now()
        _text(v, activity.source, "activity.source", 64)
        _text(v, activity.id, "activity.id", 128)
        if not activity.type:
            v.add("activity.type", "required")
        elif not self.tasks_for(activity.type):
            v.add("activity.type", f"unknown event type {activity.type[:64]!r}")
        occurred = now
        if not activity.HasField("occurred_at"):
            v.add("activity.occurred_at", "required")
        else:
            occurred = convert.from_ts(activity.occurred_at)
            if occurred > now + timedelta(seconds=cfg.max_clock_skew_seconds):
                v.add("activity.occurred_at", f"in the future beyond {cfg.max_clock_skew_seconds}s of clock skew")
            elif occurred < now - timedelta(days=cfg.max_event_age_days):
                v.add("activity.occurred_at", f"older than {cfg.max_event_age_days} days")
        if len(activity.attributes) > 50:
            v.add("activity.attributes", "at most 50 attributes")
        elif any(len(k) > 64 or len(val) > 256 for k, val in activity.attributes.items()):
            v.add("activity.attributes", "keys at most 64 and values at most 256 characters")
        return ActivityIn(activity.source, activity.id, activity.type, occurred, dict(activity.attributes))

    async def RecordActivity(
        self, request: growth_pb2.RecordActivityRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.RecordActivityResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        customer = _customer(v, request.customer)
        activity = self._activity(v, request.activity)
        v.raise_if_any()
        cfg, version, tasks, dialect = self.cfg, self.version, self.tasks_for(activity.type), self.app.db.dialect

        async def work(s: AsyncSession) -> growth_pb2.RecordActivityResponse:
            now = self.app.clock.now()
            result = await ActivityProcessor(s, dialect, cfg, version, now, self.app.new_id).run(
                customer, activity, tasks
            )
            if result.duplicate:
                stored = growth_pb2.RecordActivityResponse.FromString(result.stored_response or b"")
                stored.duplicate = True
                return stored
            response = convert.activity_response(result, version, dry_run=False)
            if not await record_once(
                s, dialect, customer, activity, version, now, response.SerializeToString(deterministic=True)
            ):
                raise ConcurrentDuplicate(activity.event_id)
            return response

        # A lost race with a concurrent copy of the event rolls back; the retry answers as a duplicate.
        for attempt in range(3):
            try:
                return await self.app.write(
                    "GrowthService.RecordActivity", request, growth_pb2.RecordActivityResponse, work
                )
            except ConcurrentDuplicate:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def PreviewActivity(
        self, request: growth_pb2.PreviewActivityRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.RecordActivityResponse:
        v = Violations()
        customer = _customer(v, request.customer)
        activity = self._activity(v, request.activity)
        v.raise_if_any()
        cfg, version, tasks, dialect = self.cfg, self.version, self.tasks_for(activity.type), self.app.db.dialect

        async def dry_run(s: AsyncSession) -> None:
            processor = ActivityProcessor(s, dialect, cfg, version, self.app.clock.now(), self.app.new_id)
            raise _Rollback(await processor.run(customer, activity, tasks))

        try:
            # Through the batcher like a real write (the unit's savepoint is rolled back by _Rollback).
            await self.app.writes.run(dry_run)
            raise AssertionError("a dry run always rolls back")
        except _Rollback as done:
            result = done.result
        if result.duplicate:
            stored = growth_pb2.RecordActivityResponse.FromString(result.stored_response or b"")
            stored.duplicate, stored.dry_run = True, True
            return stored
        return convert.activity_response(result, version, dry_run=True)

    async def GetBalance(
        self, request: growth_pb2.GetBalanceRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Balance:
        v = Violations()
        customer = _customer(v, request.customer)
        v.raise_if_any()
        now = self.app.clock.now()
        async with self.app.db.read() as s:
            return await self._balance(s, customer, now)

    async def _balance(self, s: AsyncSession, customer: str, now: datetime) -> growth_pb2.Balance:
        row = (await s.execute(BALANCE_QUERY, {"customer": customer})).first()
        if row is None:
            raise member_not_found(customer)
        return growth_pb2.Balance(
            customer=convert.customer(customer),
            points_available=row.points_available,
            points_held=row.points_held,
            points_pending=row.points_pending,
            growth_total=row.growth_total,
            level=effective_level(self.cfg, row, now),
        )

    async def GetStatement(
        self, request: growth_pb2.GetStatementRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Statement:
        v = Violations()
        customer = _customer(v, request.customer)
        before = None
        if request.page.page_token:
            if not request.page.page_token.isdigit():
                v.add("page.page_token", "not a token from a previous page")
            else:
                before = int(request.page.page_token)
        v.raise_if_any()
        size = page_size(request.page.page_size)
        now = self.app.clock.now()
        async with self.app.db.read() as s:
            balance = await self._balance(s, customer, now)
            member = await get_member(s, customer)
            lots = (
                (
                    await s.execute(
                        select(LotRow)
                        .where(LotRow.member == customer, LotRow.remaining != 0)
                        .order_by(LotRow.expires_at.is_(None), LotRow.expires_at, LotRow.id)
                    )
                )
                .scalars()
                .all()
            )
            holds = (
                (
                    await s.execute(
                        select(HoldRow)
                        .where(HoldRow.member == customer, HoldRow.status == "open")
                        .order_by(HoldRow.created_at)
                    )
                )
                .scalars()
                .all()
            )
            query = select(TransactionRow).where(TransactionRow.member == customer)
            if before is not None:
                query = query.where(TransactionRow.id < before)
            txns = (await s.execute(query.order_by(TransactionRow.id.desc()).limit(size + 1))).scalars().all()
            page, more = txns[:size], len(txns) > size
            entries: dict[int, list[EntryRow]] = {}
            if page:
                for e in (
                    await s.execute(
                        select(EntryRow).where(EntryRow.txn_id.in_([t.id for t in page])).order_by(EntryRow.id)
                    )
                ).scalars():
                    entries.setdefault(e.txn_id, []).append(e)
            level = await progress(s, self.cfg, member, now)
        return growth_pb2.Statement(
            balance=balance,
            lots=[convert.lot(lot) for lot in lots],
            holds=[convert.hold(h) for h in holds],
            level=convert.progress(level),
            history=[convert.transaction(t, entries.get(t.id, [])) for t in page],
            page=types_pb2.PageInfo(next_page_token=str(page[-1].id) if more else ""),
        )

    async def ListExpiries(
        self, request: growth_pb2.ListExpiriesRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.ListExpiriesResponse:
        v = Violations()
        customer = _customer(v, request.customer)
        v.raise_if_any()
        async with self.app.db.read() as s:
            await get_member(s, customer)
            rows = (
                await s.execute(
                    select(LotRow.expires_at, LotRow.remaining)
                    .where(LotRow.member == customer, LotRow.remaining > 0, LotRow.expires_at.is_not(None))
                    .order_by(LotRow.expires_at)
                )
            ).all()
        grouped: dict[Any, int] = {}
        for r in rows:
            grouped[r.expires_at] = grouped.get(r.expires_at, 0) + r.remaining
        return growth_pb2.ListExpiriesResponse(
            expiries=[growth_pb2.Expiry(expires_at=convert.ts(at), points=n) for at, n in grouped.items()]
        )

    async def SpendPoints(
        self, request: growth_pb2.SpendPointsRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.LedgerTransaction:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        customer = _customer(v, request.customer)
        _points(v, request.points)
        _text(v, request.reason, "reason", 500, required=False)
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.LedgerTransaction:
            txn_id = await self.holds(s).spend(customer, request.points, request.reason)
            return await _transaction(s, txn_id)

        return await self.app.write("GrowthService.SpendPoints", request, growth_pb2.LedgerTransaction, work)

    async def HoldPoints(
        self, request: growth_pb2.HoldPointsRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Hold:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        customer = _customer(v, request.customer)
        _points(v, request.points)
        _text(v, request.reason, "reason", 500, required=False)
        if request.ttl_seconds < 0 or request.ttl_seconds > self.cfg.holds.max_ttl_seconds:
            v.add("ttl_seconds", f"must be between 0 and {self.cfg.holds.max_ttl_seconds}")
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.Hold:
            row = await self.holds(s).hold(
                customer, request.points, request.reason, request.ttl_seconds, self.app.new_id()
            )
            return convert.hold(row)

        return await self.app.write("GrowthService.HoldPoints", request, growth_pb2.Hold, work)

    async def _close(self, request: Any, confirm: bool, method: str) -> growth_pb2.Hold:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        _id(v, request.hold_id, "hold_id")
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.Hold:
            holds = self.holds(s)
            redemption = (await holds.get(request.hold_id)).reason or ""
            if redemption.startswith("redemption:"):
                raise FailedPrecondition(
                    "HOLD_BELONGS_TO_REDEMPTION",
                    "use ConfirmRedemption or CancelRedemption for a redemption's hold",
                    subject=request.hold_id,
                )
            return convert.hold(await holds.close(request.hold_id, confirm=confirm))

        return await self.app.write(method, request, growth_pb2.Hold, work)

    async def ConfirmHold(
        self, request: growth_pb2.ConfirmHoldRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Hold:
        return await self._close(request, True, "GrowthService.ConfirmHold")

    async def ReleaseHold(
        self, request: growth_pb2.ReleaseHoldRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Hold:
        return await self._close(request, False, "GrowthService.ReleaseHold")

    async def ListRights(
        self, request: growth_pb2.ListRightsRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.ListRightsResponse:
        v = Violations()
        customer = _customer(v, request.customer) if request.customer.ref else None
        v.raise_if_any()
        async with self.app.db.read() as s:
            views = await self.rights(s).catalogue(customer)
        return growth_pb2.ListRightsResponse(
            rights=[
                growth_pb2.Right(
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
                for rv in views
            ]
        )

    async def RedeemRight(
        self, request: growth_pb2.RedeemRightRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Redemption:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        customer = _customer(v, request.customer)
        _id(v, request.right_id, "right_id")
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.Redemption:
            return convert.redemption(await self.rights(s).redeem(customer, request.right_id))

        return await self.app.write("GrowthService.RedeemRight", request, growth_pb2.Redemption, work)

    async def ConfirmRedemption(
        self, request: growth_pb2.ConfirmRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Redemption:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        _id(v, request.redemption_id, "redemption_id")
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.Redemption:
            return convert.redemption(await self.rights(s).confirm(request.redemption_id))

        return await self.app.write("GrowthService.ConfirmRedemption", request, growth_pb2.Redemption, work)

    async def CancelRedemption(
        self, request: growth_pb2.CancelRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Redemption:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        _id(v, request.redemption_id, "redemption_id")
        _text(v, request.reason, "reason", 500, required=False)
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.Redemption:
            return convert.redemption(await self.rights(s).cancel(request.redemption_id, request.reason))

        return await self.app.write("GrowthService.CancelRedemption", request, growth_pb2.Redemption, work)

    async def GetRedemption(
        self, request: growth_pb2.GetRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Redemption:
        v = Violations()
        _id(v, request.redemption_id, "redemption_id")
        v.raise_if_any()
        async with self.app.db.read() as s:
            return convert.redemption(await self.rights(s).get(request.redemption_id))


async def _transaction(s: Any, txn_id: int) -> growth_pb2.LedgerTransaction:
    txn = (await s.execute(select(TransactionRow).where(TransactionRow.id == txn_id))).scalar_one()
    entries = (await s.execute(select(EntryRow).where(EntryRow.txn_id == txn_id).order_by(EntryRow.id))).scalars().all()
    return convert.transaction(txn, list(entries))


class GrowthOpsServicer(_Base, growth_pb2_grpc.GrowthOpsServiceServicer):
    async def ReverseTransaction(
        self, request: growth_pb2.ReverseTransactionRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.LedgerTransaction:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        if not request.transaction_id.isdigit() or len(request.transaction_id) > 18:
            v.add("transaction_id", "must be a transaction id")
        _text(v, request.reason, "reason", 500)
        _text(v, request.operator, "operator", 128)
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.LedgerTransaction:
            txn_id = await self.holds(s).reverse(int(request.transaction_id), request.reason, request.operator)
            return await _transaction(s, txn_id)

        return await self.app.write("GrowthOpsService.ReverseTransaction", request, growth_pb2.LedgerTransaction, work)

    async def SetLevelOverride(
        self, request: growth_pb2.SetLevelOverrideRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.LevelProgress:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        customer = _customer(v, request.customer)
        now = self.app.clock.now()
        if request.level not in {lv.id for lv in self.cfg.levels.tiers}:
            v.add("level", "unknown level")
        _text(v, request.reason, "reason", 500)
        _text(v, request.operator, "operator", 128)
        if not request.HasField("until"):
            v.add("until", "required")
        elif convert.from_ts(request.until) <= now:
            v.add("until", "must be in the future")
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.LevelProgress:
            member = await get_member(s, customer, lock=True)
            member.override_level = request.level
            member.override_until = convert.from_ts(request.until)
            member.override_reason = request.reason
            member.override_operator = request.operator
            await s.flush()
            return convert.progress(await progress(s, self.cfg, member, now))

        return await self.app.write("GrowthOpsService.SetLevelOverride", request, growth_pb2.LevelProgress, work)

    async def ListEvents(
        self, request: growth_pb2.ListEventsRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.ListEventsResponse:
        v = Violations()
        customer = _customer(v, request.customer) if request.customer.ref else None
        v.check(request.after_sequence >= 0, "after_sequence", "must not be negative")
        v.check(0 <= request.limit <= 1000, "limit", "must be between 0 and 1000")
        v.raise_if_any()
        query = select(EventRow).where(EventRow.seq > request.after_sequence)
        if customer:
            query = query.where(EventRow.member == customer)
        async with self.app.db.read() as s:
            rows = (await s.execute(query.order_by(EventRow.seq).limit(request.limit or 100))).scalars().all()
        return growth_pb2.ListEventsResponse(
            events=[
                growth_pb2.GrowthEvent(
                    sequence=r.seq,
                    type=r.type,
                    customer=convert.customer(r.member),
                    emitted_at=convert.ts(r.emitted_at),
                    data=json.loads(r.data),
                )
                for r in rows
            ]
        )

    async def RunMaintenance(
        self, request: growth_pb2.RunMaintenanceRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.RunMaintenanceResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        v.raise_if_any()
        method = "GrowthOpsService.RunMaintenance"
        if await self._key_used(method, request.idempotency_key.value):
            # A retry: answer the stored counts (or IDEMPOTENCY_KEY_REUSED) without another pass.
            return await self.app.write(method, request, growth_pb2.RunMaintenanceResponse, _stored_only)
        # The pass runs its own short transactions (it cannot sit inside one unit of work); every job
        # is idempotent, so two first calls racing on one key at worst both run a pass, and both
        # answer the counts stored by whichever committed first.
        done = await self.app.maintenance.run_once()
        response = growth_pb2.RunMaintenanceResponse(
            lots_expired=done.lots_expired,
            holds_timed_out=done.holds_timed_out,
            warnings_emitted=done.warnings_emitted,
            level_changes=done.level_changes,
        )

        async def record(s: AsyncSession) -> growth_pb2.RunMaintenanceResponse:
            return response

        return await self.app.write(method, request, growth_pb2.RunMaintenanceResponse, record)

    async def _key_used(self, method: str, key: str) -> bool:
        table = self.app.idempotency.table
        async with self.app.db.read() as s:
            found = await s.execute(select(table.c.key).where(table.c.method == method, table.c.key == key))
            return found.first() is not None


async def _stored_only(s: AsyncSession) -> growth_pb2.RunMaintenanceResponse:
    raise RuntimeError("idempotency record vanished between its lookup and its replay")


class RightsSupplierServicer(_Base, growth_pb2_grpc.RightsSupplierServiceServicer):
    async def MarkVoucherUsed(
        self, request: growth_pb2.MarkVoucherUsedRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Redemption:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        _text(v, request.voucher_code, "voucher_code", 32)
        _id(v, request.supplier_id, "supplier_id")
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.Redemption:
            return convert.redemption(await self.rights(s).mark_used(request.voucher_code, request.supplier_id))

        return await self.app.write("RightsSupplierService.MarkVoucherUsed", request, growth_pb2.Redemption, work)
