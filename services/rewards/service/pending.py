"""ListPendingOffers: the offers a customer can still claim, newest first, fallback waves included. An
offer Claim would refuse — its campaign ended or changed, or the customer used up the claims of a
first-wave offer's campaign — is left out."""

from __future__ import annotations

from services.common.clock import Clock
from services.common.db import Database
from services.rewards.runtime import ConfigView, campaign_active
from services.rewards.service.claim import as_offered
from services.rewards.service.wire import arm_pb, timestamp
from services.rewards.store import decisions
from skylane.rewards.v1 import rewards_pb2


class ListPendingOffers:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock

    async def __call__(
        self, customer: str, offset: int, size: int, view: ConfigView
    ) -> rewards_pb2.ListPendingOffersResponse:
        now = self.clock.now()
        async with self.db.read() as session:
            rows = await decisions.pending_offers(session, customer, now, size + 1, offset)
        response = rewards_pb2.ListPendingOffersResponse()
        for row in rows[:size]:
            campaign = view.campaigns.get(row.campaign_id)
            if campaign is None or campaign.arm(row.arm_id) is None or not campaign_active(campaign, now):
                continue  # its campaign ended or changed: it could not be claimed any more
            arm = as_offered(campaign, row.arm_id, [row.threshold_fen, row.discount_fen, row.validity_days])
            if row.wave == 0 and (row.claims or 0) >= campaign.claims_per_customer:
                continue  # Claim would refuse it with CLAIM_LIMIT
            response.offers.add(
                offer_id=row.id,
                campaign_id=row.campaign_id,
                arm=arm_pb(arm),
                reason=row.reason,
                wave=row.wave,
                offered_at=timestamp(row.decided_at),
                claim_by=timestamp(row.claim_by),
            )
        if len(rows) > size:
            response.page.next_page_token = str(offset + size)
        return response
