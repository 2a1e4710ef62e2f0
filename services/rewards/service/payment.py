"""RecordPayment: a payment in a scene, counted once per order for the customer's assignments in the
campaigns running there — the outcome the uplift report compares between treated and holdout. A holdout
customer who pays soon after their (non-)offer is also a conversion of the no-coupon baseline, and so is a
customer the policy passed over whom the campaign never offered a coupon (domain/policy.py, Untreated)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.clock import Clock
from services.rewards.runtime import ConfigView, PolicyRuntime
from services.rewards.service import learning, outgoing
from services.rewards.service.unit import Learned, WriteCalls
from services.rewards.store import assignments, decisions, payments
from skylane.rewards.v1 import rewards_pb2


class RecordPayment:
    def __init__(self, calls: WriteCalls, runtime: PolicyRuntime, clock: Clock, dialect: str) -> None:
        self.calls, self.runtime, self.clock, self.dialect = calls, runtime, clock, dialect

    async def __call__(
        self, request: rewards_pb2.RecordPaymentRequest, view: ConfigView
    ) -> rewards_pb2.RecordPaymentResponse:
        now = self.clock.now()
        customer, amount = request.customer.ref, request.amount.fen

        async def step(conn: AsyncConnection, learned: Learned) -> rewards_pb2.RecordPaymentResponse:
            if not await payments.record_payment(
                conn, self.dialect, request.order_id, customer, request.scene, amount, now
            ):
                return rewards_pb2.RecordPaymentResponse(recorded=False)
            counted = await assignments.add_payment(conn, view.in_scene.get(request.scene, []), customer, amount, now)
            await outgoing.payment_recorded(conn, self.dialect, request, counted, now)
            since = view.params.baseline_window_start(now)
            for campaign_id, segment in await decisions.convert_holdout(conn, customer, counted, since):
                learning.holdout_conversion(learned, self.runtime, view.cfg, campaign_id, segment)
            if view.params.passed_over:
                for campaign_id, segment in await decisions.convert_passed(conn, customer, counted, since):
                    learning.pass_conversion(learned, self.runtime, view.cfg, campaign_id, segment)
            return rewards_pb2.RecordPaymentResponse(campaign_ids=counted, recorded=True)

        return await self.calls.run("RewardsService.RecordPayment", request, rewards_pb2.RecordPaymentResponse, step)
