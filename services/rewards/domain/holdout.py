"""Holdout (control group) assignment: a stable hash of campaign and customer, so every replica and
every restart puts the same customer in the same group. The first assignment is also recorded in the
database and wins over a later change of the share."""

from __future__ import annotations

from services.common.hashing import stable_unit

HOLDOUT = "holdout"
TREATMENT = "treatment"


def assign(campaign_id: str, customer_ref: str, holdout_share: float) -> str:
    return HOLDOUT if stable_unit("holdout", campaign_id, customer_ref) < holdout_share else TREATMENT
