"""The shape of `ServiceApp.write`, which every mutating use case is handed instead of the App.

A use case runs its work through it as one unit of work with its idempotency record: committed (in a
shared group commit on SQLite) before the answer returns, and answered from the stored response when the
same key comes again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

R = TypeVar("R", bound=Message)


class Write(Protocol):
    async def __call__(
        self, method: str, request: Message, response_type: type[R], work: Callable[[AsyncSession], Awaitable[R]]
    ) -> R: ...
