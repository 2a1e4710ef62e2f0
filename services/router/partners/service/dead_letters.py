"""Dead letters: deliveries that ran out of attempts, listed for ops and replayed on request."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.clock import Clock
from services.common.db import Database
from services.common.errors import FailedPrecondition, NotFound
from services.router.partners import store
from services.router.service.unit_of_work import Write
from skylane.router.v1 import leads_pb2


class DeadLetters:
    def __init__(self, db: Database, write: Write, clock: Clock) -> None:
        self.db, self.write, self.clock = db, write, clock

    async def page(self, partner_id: str, after: str, size: int) -> tuple[list[Any], bool]:
        """Up to `size` dead letters after delivery id `after` (all partners when partner_id is empty), and
        whether more follow."""
        async with self.db.read() as session:
            rows = await store.dead_letters(session, partner_id, after, size + 1)
        return rows[:size], len(rows) > size

    async def replay(self, request: leads_pb2.ReplayDeadLetterRequest) -> leads_pb2.ReplayDeadLetterResponse:
        """Puts a dead letter back in the outbox with fresh attempts. Replays racing for one dead letter replay
        it once: the others find it no longer dead (the same key answers alike)."""
        delivery_id = request.delivery_id

        async def work(session: AsyncSession) -> leads_pb2.ReplayDeadLetterResponse:
            if not await store.replay(session, delivery_id, self.clock.now()):
                status = await store.delivery_exists(session, delivery_id)
                if status is None:
                    raise NotFound("delivery", delivery_id)
                raise FailedPrecondition(
                    "NOT_DEAD_LETTER", f"delivery is {status}, not a dead letter", subject=delivery_id
                )
            return leads_pb2.ReplayDeadLetterResponse(delivery_id=delivery_id, status=store.PENDING)

        return await self.write("LeadService.ReplayDeadLetter", request, leads_pb2.ReplayDeadLetterResponse, work)
