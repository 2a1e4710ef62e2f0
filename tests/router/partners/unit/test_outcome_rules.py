"""Outcome postbacks only move forward, and what each teaches the funding estimate."""

from __future__ import annotations

from services.router.partners import outcomes
from services.router.partners.domain import EstimateBook


def test_outcomes_move_the_estimates_forward_only() -> None:
    assert outcomes.moves_forward(0, outcomes.ACCEPTED)
    assert outcomes.moves_forward(outcomes.APPROVED, outcomes.FUNDED)
    assert not outcomes.moves_forward(outcomes.FUNDED, outcomes.ACCEPTED)
    assert not outcomes.moves_forward(outcomes.FUNDED, outcomes.REJECTED)
    assert outcomes.moves_forward(outcomes.FUNDED, outcomes.RETURNED)
    assert not outcomes.moves_forward(outcomes.RETURNED, outcomes.RETURNED)
    book = EstimateBook()
    before = book.get("alpha", "tail").mean_fund()
    change = outcomes.learning(0, outcomes.FUNDED)
    book.add("alpha", "tail", fund_s=change.fund_s, fund_f=change.fund_f)
    assert book.get("alpha", "tail").mean_fund() > before
    assert outcomes.learning(outcomes.FUNDED, outcomes.RETURNED) == outcomes.Learning()
