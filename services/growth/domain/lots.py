"""Which lots a spend draws from: the soonest-expiring first, never-expiring last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class LotView:
    id: int
    remaining: int
    expires_at: datetime | None
    created_at: datetime


def fifo_order(lots: list[LotView]) -> list[LotView]:
    far = datetime.max.replace(tzinfo=None)
    return sorted(
        lots, key=lambda lot: (lot.expires_at.replace(tzinfo=None) if lot.expires_at else far, lot.created_at, lot.id)
    )


def allocate(lots: list[LotView], amount: int) -> list[tuple[int, int]]:
    """(lot id, points taken) covering `amount` from positive lots in FIFO-expiry order.

    The caller has already reserved `amount` on the balance, which equals the sum of the lots, so
    the lots always cover it; a shortfall means corrupted state and raises.
    """
    taken: list[tuple[int, int]] = []
    left = amount
    for lot in fifo_order([lot for lot in lots if lot.remaining > 0]):
        if left == 0:
            break
        take = min(lot.remaining, left)
        taken.append((lot.id, take))
        left -= take
    if left:
        raise RuntimeError(f"lots short by {left} points: balance and lots disagree")
    return taken
