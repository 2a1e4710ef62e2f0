"""The campaign report's uplift of the treated group over the holdout, on real servers."""

from __future__ import annotations

from pathlib import Path

from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, key
from tests.rewards.helpers import cust, offer, report, rewards_service, stub


async def test_uplift_report_against_the_holdout(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path, holdout=0.5) as h:
        s = stub(h)
        groups = {n: (await offer(s, n)).outcome for n in range(60)}
        treated = [n for n, o in groups.items() if o != rewards_pb2.HOLDOUT]
        held = [n for n, o in groups.items() if o == rewards_pb2.HOLDOUT]
        paying = treated[: len(treated) * 2 // 3] + held[: len(held) // 3]
        for n in paying:
            await s.RecordPayment(
                rewards_pb2.RecordPaymentRequest(
                    idempotency_key=key(),
                    customer=cust(n),
                    scene="mall",
                    order_id=f"pay-{n}",
                    amount=types_pb2.Money(fen=10_000 + 100 * n),
                )
            )
        u = (await report(s)).uplift
        assert u.treated.payment_active == len(treated) * 2 // 3
        assert u.holdout.payment_active == len(held) // 3
        expected = (u.treated.payment_active / len(treated)) / (u.holdout.payment_active / len(held))
        assert abs(u.active_rate_ratio.estimate - expected) < 1e-9
        assert u.active_rate_ratio.low < expected < u.active_rate_ratio.high
        assert u.value_ratio.defined and u.value_ratio.low < u.value_ratio.estimate < u.value_ratio.high
