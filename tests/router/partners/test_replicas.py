"""Several router replicas on one database: a capped partner's room is shared by all, so each replica's pacer
plans with its share of it (services/common/replica_share.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from services.common.db import Database
from services.common.replica_share import ReplicaLoad, TrafficShare
from tests.helpers import DbTarget
from tests.router.partners.helpers import applicant, partner_stack, sim


async def test_a_replica_serving_half_the_leads_paces_a_cap_with_half_its_room(
    db_target: DbTarget, tmp_path: Path
) -> None:
    sims = [sim("capped", bid_fen=5000), sim("backup", bid_fen=1000)]
    async with partner_stack(db_target, tmp_path, sims, lenders={"capped": {"caps": {"day": 10}}}) as stack:
        lenders = stack.desk.config.lenders
        assert [room for room, _ in (await stack.desk.cap_room(lenders)).left["capped"]] == [10]
        db = Database(db_target.url, schema=db_target.schema)
        try:
            peer_traffic = TrafficShare()
            peer = ReplicaLoad(db, stack.clock, peer_traffic)
            await peer.publish()
            routed = [await stack.route(applicant()) for _ in range(4)]
            for _ in routed:
                peer_traffic.note()  # the other replica routed as many
            stack.clock.advance(seconds=10)
            await peer.publish()
            await stack.app.replica_load.publish()
        finally:
            await db.dispose()
        assert stack.desk.traffic.share == 0.5
        used = sum(1 for r in routed if r.partner_id == "capped")
        assert used > 0
        room = [room for room, _ in (await stack.desk.cap_room(lenders)).left["capped"]]
        assert room == [(10 - used) * 0.5]  # this replica's half of what the replicas have left together
