"""Which lots a spend draws from: soonest expiry first, never-expiring last, oldest first on a tie."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.growth.domain.lots import LotView, allocate, fifo_order

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def lot(lot_id: int, remaining: int, expires_in_days: int | None, created_day: int = 0) -> LotView:
    expires = None if expires_in_days is None else T0 + timedelta(days=expires_in_days)
    return LotView(lot_id, remaining, expires, T0 + timedelta(days=created_day))


def test_order_is_soonest_expiry_then_creation_then_id_with_never_expiring_last() -> None:
    lots = [
        lot(1, 5, None),
        lot(2, 5, 40),
        lot(3, 5, 30, created_day=2),
        lot(4, 5, 30, created_day=1),
        lot(5, 5, 30, 1),
    ]
    assert [x.id for x in fifo_order(lots)] == [4, 5, 3, 2, 1]


def test_allocate_takes_whole_lots_then_part_of_the_next() -> None:
    lots = [lot(1, 50, None), lot(2, 30, 10), lot(3, 40, 20)]
    assert allocate(lots, 60) == [(2, 30), (3, 30)]
    assert allocate(lots, 120) == [(2, 30), (3, 40), (1, 50)]


def test_allocate_skips_empty_and_owed_lots() -> None:
    assert allocate([lot(1, 0, 1), lot(2, -10, 2), lot(3, 10, 3)], 10) == [(3, 10)]


def test_a_shortfall_means_balance_and_lots_disagree() -> None:
    with pytest.raises(RuntimeError, match="short by 5"):
        allocate([lot(1, 10, 1)], 15)
