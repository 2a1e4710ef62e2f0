"""The member statement: balances, lots and a paged history with each transaction's provenance."""

from __future__ import annotations

import grpc
import pytest

from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client, cref
from tests.helpers import field_violations


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


async def test_a_page_token_no_page_can_have_is_refused_by_name(growth: Client) -> None:
    ref = await growth.enroll()
    for points in (1, 2):
        await growth.earn(ref, points)

    async def page(token: str) -> growth_pb2.Statement:
        return await growth.growth.GetStatement(
            growth_pb2.GetStatementRequest(customer=cref(ref), page={"page_size": 5, "page_token": token})
        )

    # Past a positive int64 a token would overflow the database's integer parameter (INTERNAL before).
    for token in ("9999999999999999999", str(2**63), "9" * 128, "0", "12a"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await page(token)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, token
        assert set(field_violations(err.value)) == {"page.page_token"}, token
    # The largest token a page can have still pages: everything is older than it.
    assert [t.points for t in (await page(str(2**63 - 1))).history] == [2, 1]
