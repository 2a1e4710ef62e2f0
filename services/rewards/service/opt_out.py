"""SetOptOut: the customer asks not to be contacted (or lifts it). Offers and fallback waves stop at
once: every touch checks the opt-out in the same statement that counts it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from services.rewards.service.unit import Learned, WriteCalls
from services.rewards.store import contacts
from skylane.rewards.v1 import rewards_pb2


class SetOptOut:
    def __init__(self, calls: WriteCalls, dialect: str) -> None:
        self.calls, self.dialect = calls, dialect

    async def __call__(self, request: rewards_pb2.SetOptOutRequest) -> rewards_pb2.SetOptOutResponse:
        async def step(conn: AsyncConnection, learned: Learned) -> rewards_pb2.SetOptOutResponse:
            await contacts.set_opt_out(conn, self.dialect, request.customer.ref, request.opted_out)
            return rewards_pb2.SetOptOutResponse(opted_out=request.opted_out)

        return await self.calls.run("RewardsService.SetOptOut", request, rewards_pb2.SetOptOutResponse, step)
