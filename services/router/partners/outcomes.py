"""Outcome postbacks: the rules for how a lead's reported fate may move, and what it teaches the router."""

from __future__ import annotations

from dataclasses import dataclass

from skylane.router.v1 import leads_pb2

ACCEPTED = leads_pb2.LEAD_OUTCOME_ACCEPTED
APPROVED = leads_pb2.LEAD_OUTCOME_APPROVED
FUNDED = leads_pb2.LEAD_OUTCOME_FUNDED
REJECTED = leads_pb2.LEAD_OUTCOME_REJECTED
RETURNED = leads_pb2.LEAD_OUTCOME_RETURNED

# Outcomes only move forward: accepted → approved → funded | rejected; a return may follow any of them.
_STEP = {0: 0, ACCEPTED: 1, APPROVED: 2, FUNDED: 3, REJECTED: 3, RETURNED: 4}
FINAL = {FUNDED, REJECTED, RETURNED}


def moves_forward(current: int, new: int) -> bool:
    if current == RETURNED:
        return False
    return _STEP[new] > _STEP[current]


@dataclass(frozen=True)
class Learning:
    """Changes to the funding posterior a postback brings."""

    fund_s: int = 0
    fund_f: int = 0


def learning(previous: int, new: int) -> Learning:
    if new == FUNDED:
        return Learning(fund_s=1)
    if new == REJECTED:
        return Learning(fund_f=1)
    if new == RETURNED and previous not in (FUNDED, REJECTED):
        return Learning(fund_f=1)
    return Learning()
