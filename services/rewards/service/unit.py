"""One mutating call = one unit of work of the write batcher, with its idempotency record.

A unit of work only awaits the database (it may share a transaction with concurrent calls). What the
policy learns from a call — a trial, a redemption, a holdout conversion — is collected while the unit
runs and applied in memory only after it committed, so a rolled-back call teaches the policy nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

R = TypeVar("R", bound=Message)
Learned = list[Callable[[], None]]  # in-memory learning to apply once the unit of work has committed
Step = Callable[[AsyncConnection, Learned], Awaitable[R]]


class Write(Protocol):
    """ServiceApp.write: runs `work` and the call's idempotency record in the write batcher."""

    async def __call__(
        self, method: str, request: Message, response_type: type[R], work: Callable[[AsyncSession], Awaitable[R]]
    ) -> R: ...


class WriteCalls:
    def __init__(self, write: Write) -> None:
        self._write = write

    async def run(self, method: str, request: Message, response_type: type[R], step: Step[R]) -> R:
        """Runs `step` as the unit of work of call `method`; applies what it learned once committed.

        A retry with the same idempotency key gets the stored response and teaches nothing again.
        """
        learned: Learned = []

        async def unit(session: AsyncSession) -> R:
            return await step(await session.connection(), learned)

        response = await self._write(method, request, response_type, unit)
        for apply in learned:  # committed: now the policy may learn from it
            apply()
        return response
