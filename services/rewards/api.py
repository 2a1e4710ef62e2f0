"""gRPC servicer of skylane.rewards.v1: validates each request, then calls its use case
(services/rewards/service/), which runs as one unit of work with its idempotency record and answers
with the response message."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from services.common.errors import Violations
from services.common.validation import check_customer_ref, check_idempotency_key, page_size
from services.rewards.runtime import ConfigView
from services.rewards.service.claim import Claim
from services.rewards.service.dry_run import PreviewTriggers
from services.rewards.service.follow_ups import ListFollowUps
from services.rewards.service.offer import Offer
from services.rewards.service.opt_out import SetOptOut
from services.rewards.service.payment import RecordPayment
from services.rewards.service.pending import ListPendingOffers
from services.rewards.service.redeem import Redeem
from services.rewards.service.refund import RefundOrder
from services.rewards.service.report import GetCampaignReport
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc

_ORDER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_OFFER_ID = re.compile(r"^[a-f0-9]{32}$")
_MAX_PAGE_TOKEN_DIGITS = 9


@dataclass(frozen=True)
class UseCases:
    """The use cases the servicer calls, one per RPC."""

    offer: Offer
    claim: Claim
    redeem: Redeem
    refund_order: RefundOrder
    record_payment: RecordPayment
    set_opt_out: SetOptOut
    list_pending_offers: ListPendingOffers
    get_campaign_report: GetCampaignReport
    preview_triggers: PreviewTriggers
    list_follow_ups: ListFollowUps


def _check_order_id(v: Violations, value: str, path: str) -> None:
    if not value:
        v.add(path, "required")
    elif not _ORDER_ID.match(value):
        v.add(path, "must be 1-128 characters of letters, digits, '_', '.', ':' or '-'")


def _check_scene(v: Violations, view: ConfigView, scene: str) -> None:
    if not scene:
        v.add("scene", "required")
    elif scene not in view.cfg.scenes:
        v.add("scene", f"unknown scene; one of {view.cfg.scenes}")


def _page_offset(v: Violations, token: str) -> int:
    """The offset a page_token of ListPendingOffers stands for (0 for the first page)."""
    if not token:
        return 0
    if token.isdigit() and len(token) <= _MAX_PAGE_TOKEN_DIGITS:
        return int(token)
    v.add("page.page_token", "must be a page_token returned by ListPendingOffers")
    return 0


class RewardsServicer(rewards_pb2_grpc.RewardsServiceServicer):
    def __init__(self, view: Callable[[], ConfigView], use_cases: UseCases) -> None:
        self.view, self.use = view, use_cases

    async def Offer(
        self, request: rewards_pb2.OfferRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.OfferResponse:
        view = self.view()
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        _check_scene(v, view, request.scene)
        p = request.profile
        v.check(p.age >= 0, "profile.age", "must not be negative")
        v.check(p.monthly_payment_count >= 0, "profile.monthly_payment_count", "must not be negative")
        v.check(p.monthly_payment_amount.fen >= 0, "profile.monthly_payment_amount.fen", "must not be negative")
        v.raise_if_any()
        return await self.use.offer(request, view)

    async def Claim(
        self, request: rewards_pb2.ClaimRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.ClaimResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        if not _OFFER_ID.match(request.offer_id):
            v.add("offer_id", "must be an offer_id returned by Offer")
        v.raise_if_any()
        return await self.use.claim(request, self.view())

    async def Redeem(
        self, request: rewards_pb2.RedeemRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.RedeemResponse:
        view = self.view()
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        v.check(bool(request.coupon_id), "coupon_id", "required")
        _check_order_id(v, request.order_id, "order_id")
        v.check(request.order_amount.fen > 0, "order_amount.fen", "must be positive")
        _check_scene(v, view, request.scene)
        v.raise_if_any()
        return await self.use.redeem(request, view)

    async def RefundOrder(
        self, request: rewards_pb2.RefundOrderRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.RefundOrderResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        _check_order_id(v, request.order_id, "order_id")
        v.raise_if_any()
        return await self.use.refund_order(request, self.view())

    async def RecordPayment(
        self, request: rewards_pb2.RecordPaymentRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.RecordPaymentResponse:
        view = self.view()
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        _check_order_id(v, request.order_id, "order_id")
        v.check(request.amount.fen > 0, "amount.fen", "must be positive")
        if request.scene not in view.cfg.scenes:
            v.add("scene", f"unknown scene; one of {view.cfg.scenes}")
        v.raise_if_any()
        return await self.use.record_payment(request, view)

    async def SetOptOut(
        self, request: rewards_pb2.SetOptOutRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.SetOptOutResponse:
        v = Violations()
        check_idempotency_key(v, request.idempotency_key)
        check_customer_ref(v, request.customer.ref, "customer.ref")
        v.raise_if_any()
        return await self.use.set_opt_out(request)

    async def ListPendingOffers(
        self, request: rewards_pb2.ListPendingOffersRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.ListPendingOffersResponse:
        view = self.view()
        v = Violations()
        check_customer_ref(v, request.customer.ref, "customer.ref")
        offset = _page_offset(v, request.page.page_token)
        v.raise_if_any()
        size = page_size(request.page.page_size)
        return await self.use.list_pending_offers(request.customer.ref, offset, size, view)

    async def GetCampaignReport(
        self, request: rewards_pb2.GetCampaignReportRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.CampaignReport:
        if not request.campaign_id:
            v = Violations()
            v.add("campaign_id", "required")
            v.raise_if_any()
        return await self.use.get_campaign_report(request.campaign_id, self.view())

    async def PreviewTriggers(
        self, request: rewards_pb2.PreviewTriggersRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.PreviewTriggersResponse:
        return await self.use.preview_triggers(request, self.view())

    async def ListFollowUps(
        self, request: rewards_pb2.ListFollowUpsRequest, context: grpc.aio.ServicerContext
    ) -> rewards_pb2.ListFollowUpsResponse:
        return await self.use.list_follow_ups(request, self.view())
