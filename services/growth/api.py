"""gRPC servicers of skylane.growth.v1: validate the request, run its use case, map the answer.

Write use cases run as one unit of work through `Runtime.write` (committed with the call's
idempotency record); reads run on a read session. The servicers receive the runtime, not the App.
"""

from __future__ import annotations

from typing import Any

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import Violations
from services.common.validation import check_idempotency_key, page_size
from services.growth import validation as check
from services.growth.domain.awards import ActivityIn
from services.growth.service import activity, convert, events, levels, members
from services.growth.service.context import Deps, Runtime
from services.growth.service.holds import Holds, reverse_transaction, spend_points
from services.growth.service.maintenance import Maintenance, run_maintenance
from services.growth.service.rights import Rights
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc


class GrowthServicer(growth_pb2_grpc.GrowthServiceServicer):
    def __init__(self, rt: Runtime, tasks: activity.TaskIndex) -> None:
        self.rt, self.tasks = rt, tasks

    async def EnrollMember(
        self, request: growth_pb2.EnrollMemberRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Member:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        customer = check.customer(v, request.customer)
        referrer = check.referrer(v, request, customer)
        v.raise_if_any()
        deps = self.rt.deps()

        async def work(s: AsyncSession) -> growth_pb2.Member:
            row, level = await members.enroll(s, deps, customer, referrer)
            return convert.member(customer, row, level)

        return await self.rt.write("GrowthService.EnrollMember", request, growth_pb2.Member, work)

    def _activity(self, v: Violations, request: Any) -> tuple[str, ActivityIn, Deps]:
        deps = self.rt.deps()
        customer = check.customer(v, request.customer)
        known = bool(self.tasks.tasks_for(deps, request.activity.type))
        return customer, check.activity(v, request.activity, deps.cfg, known, deps.now), deps

    async def RecordActivity(
        self, request: growth_pb2.RecordActivityRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.RecordActivityResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        customer, event, deps = self._activity(v, request)
        v.raise_if_any()
        tasks = self.tasks.tasks_for(deps, event.type)

        async def work(s: AsyncSession) -> growth_pb2.RecordActivityResponse:
            return await activity.record(s, deps.at(self.rt.clock.now()), customer, event, tasks)

        response = growth_pb2.RecordActivityResponse
        return await activity.retrying_duplicates(
            lambda: self.rt.write("GrowthService.RecordActivity", request, response, work)
        )

    async def PreviewActivity(
        self, request: growth_pb2.PreviewActivityRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.RecordActivityResponse:
        v = Violations()
        customer, event, deps = self._activity(v, request)
        v.raise_if_any()
        tasks = self.tasks.tasks_for(deps, event.type)
        result = await activity.preview(self.rt.writes, self.rt.clock, deps, customer, event, tasks)
        return convert.preview_response(result, deps.version)

    async def GetBalance(
        self, request: growth_pb2.GetBalanceRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Balance:
        v = Violations()
        customer = check.customer(v, request.customer)
        v.raise_if_any()
        deps = self.rt.deps()
        async with self.rt.db.read() as s:
            return convert.balance(await members.balance(s, deps, customer))

    async def GetStatement(
        self, request: growth_pb2.GetStatementRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Statement:
        v = Violations()
        customer = check.customer(v, request.customer)
        before = check.page_before(v, request.page.page_token)
        v.raise_if_any()
        size = page_size(request.page.page_size)
        deps = self.rt.deps()
        async with self.rt.db.read_entities() as s:
            view = await members.statement(s, deps, customer, before, size)
        return convert.statement(view)

    async def ListExpiries(
        self, request: growth_pb2.ListExpiriesRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.ListExpiriesResponse:
        v = Violations()
        customer = check.customer(v, request.customer)
        v.raise_if_any()
        async with self.rt.db.read_entities() as s:
            grouped = await members.expiries(s, customer)
        return convert.expiries(grouped)

    async def SpendPoints(
        self, request: growth_pb2.SpendPointsRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.LedgerTransaction:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        customer = check.customer(v, request.customer)
        check.points(v, request.points)
        check.text(v, request.reason, "reason", 500, required=False)
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.LedgerTransaction:
            posted = await spend_points(s, self.rt.deps(), customer, request.points, request.reason)
            return convert.transaction(*posted)

        return await self.rt.write("GrowthService.SpendPoints", request, growth_pb2.LedgerTransaction, work)

    async def HoldPoints(
        self, request: growth_pb2.HoldPointsRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Hold:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        customer = check.customer(v, request.customer)
        check.points(v, request.points)
        check.text(v, request.reason, "reason", 500, required=False)
        check.ttl(v, request.ttl_seconds, self.rt.config.model)
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.Hold:
            holds = Holds(s, self.rt.deps())
            row = await holds.hold(customer, request.points, request.reason, request.ttl_seconds, self.rt.new_id())
            return convert.hold(row)

        return await self.rt.write("GrowthService.HoldPoints", request, growth_pb2.Hold, work)

    async def _close(self, request: Any, confirm: bool, method: str) -> growth_pb2.Hold:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check.ident(v, request.hold_id, "hold_id")
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.Hold:
            return convert.hold(await Holds(s, self.rt.deps()).close_own(request.hold_id, confirm=confirm))

        return await self.rt.write(method, request, growth_pb2.Hold, work)

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
        customer = check.optional_customer(v, request.customer)
        v.raise_if_any()
        async with self.rt.db.read_entities() as s:
            views = await Rights(s, self.rt.deps()).catalogue(customer)
        return growth_pb2.ListRightsResponse(rights=[convert.right(rv) for rv in views])

    async def RedeemRight(
        self, request: growth_pb2.RedeemRightRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Redemption:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        customer = check.customer(v, request.customer)
        check.ident(v, request.right_id, "right_id")
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.Redemption:
            return convert.redemption(await Rights(s, self.rt.deps()).redeem(customer, request.right_id))

        return await self.rt.write("GrowthService.RedeemRight", request, growth_pb2.Redemption, work)

    async def ConfirmRedemption(
        self, request: growth_pb2.ConfirmRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Redemption:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check.ident(v, request.redemption_id, "redemption_id")
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.Redemption:
            return convert.redemption(await Rights(s, self.rt.deps()).confirm(request.redemption_id))

        return await self.rt.write("GrowthService.ConfirmRedemption", request, growth_pb2.Redemption, work)

    async def CancelRedemption(
        self, request: growth_pb2.CancelRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Redemption:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check.ident(v, request.redemption_id, "redemption_id")
        check.text(v, request.reason, "reason", 500, required=False)
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.Redemption:
            return convert.redemption(await Rights(s, self.rt.deps()).cancel(request.redemption_id, request.reason))

        return await self.rt.write("GrowthService.CancelRedemption", request, growth_pb2.Redemption, work)

    async def GetRedemption(
        self, request: growth_pb2.GetRedemptionRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Redemption:
        v = Violations()
        check.ident(v, request.redemption_id, "redemption_id")
        v.raise_if_any()
        async with self.rt.db.read_entities() as s:
            return convert.redemption(await Rights(s, self.rt.deps()).get(request.redemption_id))


class GrowthOpsServicer(growth_pb2_grpc.GrowthOpsServiceServicer):
    def __init__(self, rt: Runtime, maintenance: Maintenance) -> None:
        self.rt, self.maintenance = rt, maintenance

    async def ReverseTransaction(
        self, request: growth_pb2.ReverseTransactionRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.LedgerTransaction:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check.transaction_id(v, request.transaction_id)
        check.text(v, request.reason, "reason", 500)
        check.text(v, request.operator, "operator", 128)
        v.raise_if_any()
        txn_id = int(request.transaction_id)

        async def work(s: AsyncSession) -> growth_pb2.LedgerTransaction:
            posted = await reverse_transaction(s, self.rt.deps(), txn_id, request.reason, request.operator)
            return convert.transaction(*posted)

        method = "GrowthOpsService.ReverseTransaction"
        return await self.rt.write(method, request, growth_pb2.LedgerTransaction, work)

    async def SetLevelOverride(
        self, request: growth_pb2.SetLevelOverrideRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.LevelProgress:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        customer = check.customer(v, request.customer)
        deps = self.rt.deps()
        check.override(v, request, deps.cfg, deps.now)
        v.raise_if_any()
        until = check.from_ts(request.until)

        async def work(s: AsyncSession) -> growth_pb2.LevelProgress:
            progress = await levels.set_override(
                s, deps, customer, request.level, until, request.reason, request.operator
            )
            return convert.progress(progress)

        return await self.rt.write("GrowthOpsService.SetLevelOverride", request, growth_pb2.LevelProgress, work)

    async def ListEvents(
        self, request: growth_pb2.ListEventsRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.ListEventsResponse:
        v = Violations()
        customer = check.optional_customer(v, request.customer)
        check.list_events(v, request)
        v.raise_if_any()
        async with self.rt.db.read() as s:
            rows = await events.list_events(s, customer, request.after_sequence, request.limit)
        return growth_pb2.ListEventsResponse(events=[convert.event(r) for r in rows])

    async def RunMaintenance(
        self, request: growth_pb2.RunMaintenanceRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.RunMaintenanceResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        v.raise_if_any()
        return await run_maintenance(self.rt, self.maintenance, request)


class RightsSupplierServicer(growth_pb2_grpc.RightsSupplierServiceServicer):
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def MarkVoucherUsed(
        self, request: growth_pb2.MarkVoucherUsedRequest, context: grpc.aio.ServicerContext
    ) -> growth_pb2.Redemption:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check.text(v, request.voucher_code, "voucher_code", 32)
        check.ident(v, request.supplier_id, "supplier_id")
        v.raise_if_any()

        async def work(s: AsyncSession) -> growth_pb2.Redemption:
            return convert.redemption(
                await Rights(s, self.rt.deps()).mark_used(request.voucher_code, request.supplier_id)
            )

        method = "RightsSupplierService.MarkVoucherUsed"
        return await self.rt.write(method, request, growth_pb2.Redemption, work)
