"""The holdout on real servers: never treated, and the recorded assignment wins over a changed share."""

from __future__ import annotations

from pathlib import Path

from services.rewards.domain import holdout
from skylane.common.v1 import admin_pb2, admin_pb2_grpc
from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, key
from tests.rewards.helpers import config_text, cust, offer, report, rewards_service, stub


async def test_holdout_is_never_treated_and_its_assignment_is_stable(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path, holdout=0.5) as h:
        s = stub(h)
        first = {n: await offer(s, n) for n in range(40)}
        held = {n for n, r in first.items() if r.outcome == rewards_pb2.HOLDOUT}
        assert held == {n for n in range(40) if holdout.assign("mall", cust(n).ref, 0.5) == holdout.HOLDOUT}
        assert 5 < len(held) < 35
        assert all(not r.HasField("arm") for n, r in first.items() if n in held)
        # Change the share to 0: the recorded assignment wins, holdout customers stay untreated.
        h.write_config(config_text(holdout=0.0))
        admin = admin_pb2_grpc.AdminStub(h.channel)
        assert (await admin.ReloadConfig(admin_pb2.ReloadConfigRequest(idempotency_key=key()))).changed
        for n in range(40):
            again = await offer(s, n, "mall")
            assert (again.outcome == rewards_pb2.HOLDOUT) == (n in held)
        rep = await report(s)
        assert rep.uplift.holdout.customers == len(held)
        assert rep.uplift.treated.customers == 40 - len(held)
        assert all(r.arm_id for r in rep.funnel)
