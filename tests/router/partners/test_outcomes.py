"""ReportLeadOutcome postbacks: authentication per partner, forward-only outcomes, return share, and
learning — over a real LeadService on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from services.router.partners import store
from skylane.common.v1 import types_pb2
from skylane.router.v1 import leads_pb2
from tests.helpers import DbTarget, error_reason, field_violations, key
from tests.router.partners.helpers import Stack, applicant, partner_stack, sim

FUNDED, REJECTED, RETURNED = (
    leads_pb2.LEAD_OUTCOME_FUNDED,
    leads_pb2.LEAD_OUTCOME_REJECTED,
    leads_pb2.LEAD_OUTCOME_RETURNED,
)
APPROVED, ACCEPTED = leads_pb2.LEAD_OUTCOME_APPROVED, leads_pb2.LEAD_OUTCOME_ACCEPTED


def auth(partner: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer token-{partner}"),)


def outcome(
    lead_id: str, partner: str, kind: int, fen: int = 0, reason: str = ""
) -> leads_pb2.ReportLeadOutcomeRequest:
    return leads_pb2.ReportLeadOutcomeRequest(
        idempotency_key=key(),
        lead_id=lead_id,
        partner_id=partner,
        outcome=kind,  # type: ignore[arg-type]
        funded_amount=types_pb2.Money(fen=fen),
        reason=reason,
    )


async def posted_lead(stack: Stack, tier: str = "near_prime") -> str:
    result = await stack.route(applicant(tier))
    await stack.drain()
    return result.lead_id


async def lead_row(stack: Stack, lead_id: str) -> tuple[str, int, int]:
    async with stack.app.db.read() as session:
        row = await store.load_lead(session, lead_id)
    return row.status, row.outcome, row.funded_amount_fen


async def test_outcomes_move_the_estimates(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(db_target, tmp_path, [sim("alpha")]) as stack:
        leads = [await posted_lead(stack) for _ in range(4)]
        report = (await stack.leads.GetPartnerReport(leads_pb2.GetPartnerReportRequest(partner_id="alpha"))).partners[0]
        assert report.accept_estimate["near_prime"] == pytest.approx(5 / 6, abs=1e-4)  # 4 accepted posts on Beta(1,1)
        assert report.fund_estimate["near_prime"] == pytest.approx(0.5)
        for lead_id in leads[:3]:
            await stack.leads.ReportLeadOutcome(outcome(lead_id, "alpha", FUNDED, 1_000_000), metadata=auth("alpha"))
        await stack.leads.ReportLeadOutcome(outcome(leads[3], "alpha", REJECTED), metadata=auth("alpha"))
        report = (await stack.leads.GetPartnerReport(leads_pb2.GetPartnerReportRequest(partner_id="alpha"))).partners[0]
        assert report.fund_estimate["near_prime"] == pytest.approx(4 / 6, abs=1e-4)
        assert (report.accepted_leads, report.funded_rate, report.post_acceptance_rate) == (4, 0.75, 1.0)
        assert report.revenue_per_lead_fen == 3000
        assert stack.desk.estimates.get("alpha", "near_prime").fund_s == 3  # the live policy learned it too


async def test_postback_for_someone_elses_lead_is_refused(db_target: DbTarget, tmp_path: Path) -> None:
    sims = [sim("alpha", bid_fen=5000), sim("beta", bid_fen=100)]
    async with partner_stack(
        db_target, tmp_path, sims, policy="waterfall", waterfall={"near_prime": ["alpha", "beta"]}
    ) as stack:
        lead_id = await posted_lead(stack)
        assert (await lead_row(stack, lead_id))[0] == store.POSTED
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stack.leads.ReportLeadOutcome(outcome(lead_id, "beta", FUNDED, 100), metadata=auth("beta"))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_reason(err.value) == "NOT_YOUR_LEAD"
        with pytest.raises(grpc.aio.AioRpcError) as spoof:  # beta's token claiming to be alpha
            await stack.leads.ReportLeadOutcome(outcome(lead_id, "alpha", FUNDED, 100), metadata=auth("beta"))
        assert (spoof.value.code(), error_reason(spoof.value)) == (
            grpc.StatusCode.PERMISSION_DENIED,
            "PARTNER_MISMATCH",
        )
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await stack.leads.ReportLeadOutcome(outcome(lead_id, "alpha", FUNDED, 100))
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as forged:
            await stack.leads.ReportLeadOutcome(
                outcome(lead_id, "alpha", FUNDED, 100), metadata=(("authorization", "Bearer guess"),)
            )
        assert forged.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert await lead_row(stack, lead_id) == (store.POSTED, 0, 0)  # nothing changed
        assert stack.desk.estimates.get("beta", "near_prime").fund_s == 0


async def test_a_caller_without_a_partner_token_learns_nothing_of_the_request_rules(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with partner_stack(db_target, tmp_path, [sim("alpha")]) as stack:
        empty = leads_pb2.ReportLeadOutcomeRequest()  # every field wrong: a token holder gets INVALID_ARGUMENT
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await stack.leads.ReportLeadOutcome(empty)
        assert (anonymous.value.code(), error_reason(anonymous.value)) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "MISSING_CREDENTIALS",
        )
        raw = stack.harness.channel.unary_unary("/skylane.router.v1.LeadService/ReportLeadOutcome")
        with pytest.raises(grpc.aio.AioRpcError) as garbage:  # not even a message
            await raw(b"\xff\xff\xff", metadata=(("authorization", "Bearer guess"),))
        assert (garbage.value.code(), error_reason(garbage.value)) == (
            grpc.StatusCode.UNAUTHENTICATED,
            "BAD_CREDENTIALS",
        )
        with pytest.raises(grpc.aio.AioRpcError) as holder:
            await stack.leads.ReportLeadOutcome(empty, metadata=auth("alpha"))
        assert holder.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_bad_postbacks_are_refused_and_change_nothing(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(db_target, tmp_path, [sim("alpha")], max_return_share=0.5) as stack:
        lead_id = await posted_lead(stack)
        with pytest.raises(grpc.aio.AioRpcError) as unknown:
            await stack.leads.ReportLeadOutcome(outcome(lead_id, "nobody", FUNDED, 100), metadata=auth("alpha"))
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await stack.leads.ReportLeadOutcome(
                leads_pb2.ReportLeadOutcomeRequest(partner_id="alpha", outcome=FUNDED), metadata=auth("alpha")
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(field_violations(bad.value)) == {"idempotency_key.value", "lead_id", "funded_amount.fen"}
        with pytest.raises(grpc.aio.AioRpcError) as too_much:
            await stack.leads.ReportLeadOutcome(outcome(lead_id, "alpha", FUNDED, 2_000_001), metadata=auth("alpha"))
        assert set(field_violations(too_much.value)) == {"funded_amount.fen"}
        with pytest.raises(grpc.aio.AioRpcError) as no_reason:
            await stack.leads.ReportLeadOutcome(outcome(lead_id, "alpha", RETURNED), metadata=auth("alpha"))
        assert set(field_violations(no_reason.value)) == {"reason"}
        assert await lead_row(stack, lead_id) == (store.POSTED, 0, 0)

        request = outcome(lead_id, "alpha", FUNDED, 2_000_000)
        first = await stack.leads.ReportLeadOutcome(request, metadata=auth("alpha"))
        again = await stack.leads.ReportLeadOutcome(request, metadata=auth("alpha"))  # retried: one effect
        assert first == again and first.outcome == FUNDED
        assert stack.desk.estimates.get("alpha", "near_prime").fund_s == 1
        with pytest.raises(grpc.aio.AioRpcError) as backwards:
            await stack.leads.ReportLeadOutcome(outcome(lead_id, "alpha", ACCEPTED), metadata=auth("alpha"))
        assert (backwards.value.code(), error_reason(backwards.value)) == (
            grpc.StatusCode.FAILED_PRECONDITION,
            "OUTCOME_NOT_FORWARD",
        )
        assert await lead_row(stack, lead_id) == (store.POSTED, FUNDED, 2_000_000)


async def test_returns_beyond_the_configured_share_are_refused(db_target: DbTarget, tmp_path: Path) -> None:
    async with partner_stack(db_target, tmp_path, [sim("alpha")], max_return_share=0.25) as stack:
        leads = [await posted_lead(stack) for _ in range(4)]
        await stack.leads.ReportLeadOutcome(
            outcome(leads[0], "alpha", RETURNED, reason="FRAUD"), metadata=auth("alpha")
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stack.leads.ReportLeadOutcome(
                outcome(leads[1], "alpha", RETURNED, reason="FRAUD"), metadata=auth("alpha")
            )
        assert (err.value.code(), error_reason(err.value)) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "RETURN_SHARE_EXCEEDED",
        )
        assert (await lead_row(stack, leads[1]))[1] == 0
        report = (await stack.leads.GetPartnerReport(leads_pb2.GetPartnerReportRequest(partner_id="alpha"))).partners[0]
        assert report.returns == 1 and report.revenue_per_lead_fen == 3000 * 3 / 4


async def test_partner_sim_reports_outcomes_back_to_the_router(db_target: DbTarget, tmp_path: Path) -> None:
    import asyncio

    async with partner_stack(
        db_target, tmp_path, [sim("alpha", fund_rate=1.0, token="token-alpha", postback_delay_ms=0)]
    ) as stack:
        alpha = stack.sims["alpha"].sim
        alpha.router = stack.harness.service.address
        lead_id = await posted_lead(stack)
        for _ in range(100):
            if alpha.record.postbacks:
                break
            await asyncio.sleep(0.02)
        assert await lead_row(stack, lead_id) == (store.POSTED, FUNDED, 2_000_000)
