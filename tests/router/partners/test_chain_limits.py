"""The registry's chain limits as the dispatcher honours them: a maximum number of posts per lead and a
partner's acceptance window; and how the registry fields validate and become the planner's limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.router.partners import store
from services.router.partners.config import PartnersConfig
from services.router.partners.selection import ChainLimits
from skylane.router.v1 import leads_pb2
from tests.helpers import DbTarget
from tests.router.partners.helpers import applicant, partner_stack, sim


async def test_a_lead_gets_no_more_posts_than_max_posts_per_lead(db_target: DbTarget, tmp_path: Path) -> None:
    sims = [sim("picky", bid_fen=5000, accept_rate=0.0), sim("fussy", bid_fen=4000, accept_rate=0.0), sim("steady")]
    async with partner_stack(
        db_target,
        tmp_path,
        sims,
        policy="waterfall",
        max_posts_per_lead=2,
        waterfall={"near_prime": ["picky", "fussy", "steady"]},
    ) as stack:
        result = await stack.route(applicant())
        await stack.drain()
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=result.lead_id))
        assert (trace.status, [d.partner_id for d in trace.deliveries]) == (store.UNSOLD, ["picky", "fussy"])
        assert stack.sims["steady"].sim.record.post_calls == 0
        stack.reconfigure(max_posts_per_lead=3)
        result = await stack.route(applicant())
        await stack.drain()
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=result.lead_id))
        assert (trace.status, trace.partner_id) == (store.POSTED, "steady")


@pytest.mark.parametrize(("waited", "second"), [(10, "windowed"), (31, "steady")])
async def test_a_bid_whose_acceptance_window_passed_gets_no_post(
    db_target: DbTarget, tmp_path: Path, waited: int, second: str
) -> None:
    sims = [sim("picky", bid_fen=5000, accept_rate=0.0), sim("windowed", bid_fen=4000), sim("steady")]
    async with partner_stack(
        db_target,
        tmp_path,
        sims,
        lenders={"windowed": {"accept_window_seconds": 30}},
        policy="waterfall",
        waterfall={"near_prime": ["picky", "windowed", "steady"]},
    ) as stack:
        result = await stack.route(applicant())
        stack.clock.advance(seconds=waited)  # the first post is answered this long after the ping
        await stack.drain()
        trace = await stack.leads.GetLeadTrace(leads_pb2.GetLeadTraceRequest(lead_id=result.lead_id))
        assert (trace.status, trace.partner_id) == (store.POSTED, second)
        assert [d.partner_id for d in trace.deliveries] == ["picky", second]


LENDER = {"id": "alpha", "endpoint": "x:1", "tiers": ["tail"], "annual_cost_rate": 0.18}


def test_chain_fields_default_to_an_unlimited_free_chain_and_become_the_planners_limits() -> None:
    plain = PartnersConfig.model_validate({"lenders": [LENDER]})
    assert (plain.max_posts_per_lead, plain.post_cost_fen, plain.lenders[0].accept_window_seconds) == (None, 0, None)
    assert ChainLimits.of(plain) == ChainLimits(None, 900_000.0, 0.0, {})
    limited = PartnersConfig.model_validate(
        {
            "max_posts_per_lead": 3,
            "post_cost_fen": 40,
            "offer_window_seconds": 600,
            "lenders": [{**LENDER, "accept_window_seconds": 90}],
        }
    )
    assert ChainLimits.of(limited) == ChainLimits(3, 600_000.0, 40.0, {"alpha": 90_000.0})


@pytest.mark.parametrize(
    ("top", "lender"),
    [
        ({"max_posts_per_lead": 0}, {}),
        ({"post_cost_fen": -1}, {}),
        ({}, {"accept_window_seconds": 0}),
        ({}, {"accept_window_seconds": 86_401}),
    ],
)
def test_chain_fields_out_of_range_are_refused(top: dict[str, int], lender: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        PartnersConfig.model_validate({**top, "lenders": [{**LENDER, **lender}]})
