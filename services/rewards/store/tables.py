"""The rewards tables as Core tables, and the helpers every statement module builds with."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam

from services.common.db import UTCDateTime
from services.rewards.models import (
    Assignment,
    BudgetDay,
    CampaignBudget,
    Contact,
    Coupon,
    Decision,
    Journey,
    JourneyStep,
    Payment,
    Redemption,
    RiskFlag,
    TouchFate,
)

contacts = cast(Table, Contact.__table__)
assignments = cast(Table, Assignment.__table__)
budgets = cast(Table, CampaignBudget.__table__)
budget_days = cast(Table, BudgetDay.__table__)
decisions = cast(Table, Decision.__table__)
coupons = cast(Table, Coupon.__table__)
redemptions = cast(Table, Redemption.__table__)
payments = cast(Table, Payment.__table__)
touch_fates = cast(Table, TouchFate.__table__)
journeys = cast(Table, Journey.__table__)
journey_steps = cast(Table, JourneyStep.__table__)
risk_flags = cast(Table, RiskFlag.__table__)


def param(name: str, **kw: Any) -> Any:
    """A bind parameter: statements are built once and run with values."""
    return bindparam(name, **kw)


def moment(name: str) -> Any:
    """A bind parameter holding an aware datetime (stored as UTC)."""
    return bindparam(name, type_=UTCDateTime())


def rowcount(result: Any) -> int:
    return int(result.rowcount)
