"""What a partner lender receives about an applicant: one allow-list, every value from a closed set or a
bounded number.

A partner sees `MaskedApplicant` (in Ping, and again in Post; stored as `partner_leads.masked_applicant`)
and, in Post, the hashed applicant reference, the agreed price and the source channel. This module is the
single place that decides the MaskedApplicant's content:

| field            | value                                                            |
| ---------------- | ---------------------------------------------------------------- |
| tier             | a configured tier name                                           |
| score_band       | the score's band of 50 points, e.g. "600-649"                    |
| age_band         | one of AGE_BANDS, or empty                                       |
| region           | a code of the declared categorical `region` tag, or empty         |
| requested_amount | the requested amount in fen (a non-negative whole number)        |
| term_months      | the requested term, 0-600                                        |
| phone_hash       | the lower-case hex SHA-256 the channel sent, or empty            |

Nothing else of the request is ever copied: free-text tags are dropped at validation, and other tags are
for the router's own policy only. `lead_applicant` applies the same rules to what the partner layer keeps
for later selection, so a lead row cannot hold more than a partner may see.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Final

from services.router.domain.tags import CODE
from services.router.partners.domain import LeadApplicant, age_band, score_band
from skylane.common.v1 import types_pb2
from skylane.partner.v1 import partner_pb2

# Every MaskedApplicant field a partner receives. A new proto field stays empty until it is added here
# (tests/router/partners/test_partner_payload.py fails until it is reviewed).
PARTNER_FIELDS: Final = (
    "phone_hash",
    "age_band",
    "region",
    "score_band",
    "requested_amount",
    "tier",
    "term_months",
)

AGE_BANDS: Final = frozenset({"0-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"})

_HASH = re.compile(r"[0-9a-f]{64}")
_TIER = re.compile(r"[a-z][a-z0-9_]{0,63}")


def region_code(value: object) -> str:
    # Region values arrive typed by the `region` tag's declaration; the code shape on top of it means even a
    # LeadApplicant built elsewhere (simulation, a stored lead) cannot carry text to a partner.
    return value if isinstance(value, str) and CODE.fullmatch(value) else ""


def phone_hash(value: str) -> str:
    return value if _HASH.fullmatch(value) else ""


def lead_applicant(applicant: LeadApplicant) -> LeadApplicant:
    """The applicant with every partner-visible value forced into its closed set (empty when outside)."""
    return replace(
        applicant,
        region=region_code(applicant.region),
        phone_hash=phone_hash(applicant.phone_hash),
        tier=applicant.tier if _TIER.fullmatch(applicant.tier) else "",
    )


def partner_payload(applicant: LeadApplicant) -> partner_pb2.MaskedApplicant:
    """The MaskedApplicant a partner is pinged and posted with, built from PARTNER_FIELDS only."""
    a = lead_applicant(applicant)
    band = age_band(a.age)
    values: dict[str, Any] = {
        "phone_hash": a.phone_hash,
        "age_band": band if band in AGE_BANDS else "",
        "region": a.region,
        "score_band": score_band(a.score),
        "requested_amount": types_pb2.Money(fen=max(0, a.requested_amount_fen)),
        "tier": a.tier,
        "term_months": a.term_months if 0 <= a.term_months <= 600 else 0,
    }
    return partner_pb2.MaskedApplicant(**{name: values[name] for name in PARTNER_FIELDS})
