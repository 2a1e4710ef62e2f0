"""Who may receive a lead: partners without standing or the applicant's consent never do; consent naming the
partner for the purpose is enough."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import DbTarget
from tests.router.partners.helpers import applicant, partner_stack, sim


@pytest.mark.parametrize(
    ("lender", "consent_ids", "consent_classes", "expected"),
    [
        ({}, (), ("licensed_bank",), "NO_CONSENT"),  # consent names another class
        ({"allow_listed": False}, (), ("consumer_finance",), "NOT_ALLOW_LISTED"),
        ({"annual_cost_rate": 0.36}, (), ("consumer_finance",), "COST_CEILING"),
        ({"enabled": False}, (), ("consumer_finance",), "DISABLED"),
    ],
)
async def test_partners_without_standing_or_consent_never_receive_a_lead(
    db_target: DbTarget,
    tmp_path: Path,
    lender: dict[str, object],
    consent_ids: tuple[str, ...],
    consent_classes: tuple[str, ...],
    expected: str,
) -> None:
    sims = [sim("blocked", bid_fen=9000), sim("fine", bid_fen=1000)]
    async with partner_stack(
        db_target, tmp_path, sims, lenders={"blocked": lender, "fine": {"partner_class": "licensed_bank"}}
    ) as stack:
        for _ in range(3):
            result = await stack.route(
                applicant(consent_ids=consent_ids, consent_classes=(*consent_classes, "licensed_bank"))
            )
            assert result.partner_id == "fine"
            assert {e.partner_id: e.status for e in result.trace}["blocked"] == expected
        await stack.drain()
        blocked = stack.sims["blocked"].sim.record
        assert (blocked.ping_calls, blocked.post_calls) == (0, 0)


async def test_consent_by_partner_id_for_the_purpose_is_enough(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(db_target, tmp_path, [sim("named", bid_fen=2000)]) as stack:
        other_purpose = await stack.route(applicant(consent_ids=["named"], consent_classes=(), purposes=["marketing"]))
        assert [e.status for e in other_purpose.trace] == ["NO_CONSENT"]
        named = await stack.route(applicant(consent_ids=["named"], consent_classes=()))
        assert named.partner_id == "named"
        await stack.drain()
        assert stack.sims["named"].sim.accepted_leads() == [named.lead_id]
        post = stack.sims["named"].sim.record.post_requests[named.lead_id]
        assert post.source_channel == "ceair_app" and post.applicant.age_band == "25-34"
        assert post.idempotency_key.value == named.lead_id
