"""The member statement: balances, lots and a paged history with each transaction's provenance."""

from __future__ import annotations

from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client, cref


async def test_statement_pages_history_with_provenance(growth: Client) -> None:
    ref = await growth.enroll()
    for points in (1, 2, 3, 4, 5):
        await growth.earn(ref, points)
    page1 = await growth.statement(ref, page_size=2)
    assert [t.points for t in page1.history] == [5, 4]
    assert page1.history[0].task_id == "earn" and page1.history[0].event_source == "test"
    assert page1.history[0].config_version == growth.h.app.config.current.version
    assert sum(e.amount for e in page1.history[0].entries) == 0
    page2 = await growth.growth.GetStatement(
        growth_pb2.GetStatementRequest(
            customer=cref(ref), page={"page_size": 2, "page_token": page1.page.next_page_token}
        )
    )
    assert [t.points for t in page2.history] == [3, 2]
    assert page1.balance.points_available == 15 and len(page1.lots) == 5
