"""PreviewActivity: a dry run answers what RecordActivity would award, posts nothing, and knows a
recorded event as a duplicate."""

from __future__ import annotations

from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client, cref


async def test_dry_run_answers_without_posting(growth: Client) -> None:
    ref = await growth.enroll()
    request = growth.activity_request(ref, "pay", event_id="pay-77", amount_fen=2000)
    preview = await growth.growth.PreviewActivity(
        growth_pb2.PreviewActivityRequest(customer=cref(ref), activity=request.activity)
    )
    assert preview.dry_run and [(a.kind, a.points) for a in preview.awards] == [("base", 10), ("first_time", 100)]
    assert all(not a.transaction_id for a in preview.awards)
    assert (await growth.balance(ref)).points_available == 0
    assert len((await growth.statement(ref)).history) == 0
    real = await growth.growth.RecordActivity(request)
    assert [(a.kind, a.points) for a in real.awards] == [(a.kind, a.points) for a in preview.awards]
    replay_preview = await growth.growth.PreviewActivity(
        growth_pb2.PreviewActivityRequest(customer=cref(ref), activity=request.activity)
    )
    assert replay_preview.duplicate and replay_preview.dry_run
    assert (await growth.balance(ref)).points_available == 110
