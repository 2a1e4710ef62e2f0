"""Several router replicas on one database, on SQLite and PostgreSQL: a capped partner's room is shared by
all, so each replica's pacer plans with its share of it (services/common/replica_share.py); and each takes in
what the others learned live."""

from __future__ import annotations

from pathlib import Path

from services.common.db import Database
from services.common.replica_share import ReplicaLoad, TrafficShare
from tests.helpers import DbTarget
from tests.router.partners.helpers import applicant, partner_stack, sim
from tests.router.partners.test_learning_in_production import beliefs
from tests.router.partners.test_outcomes import FUNDED, auth, outcome


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


async def test_each_replica_takes_in_what_another_learned_once_and_never_its_own(
    db_target: DbTarget, tmp_path: Path
) -> None:
    """Two router replicas on one database, each learning live from its own deliveries and postbacks: the
    take-in pass applies the other's logged observations once each, so both end up with the same estimates."""
    sims = [sim("alpha", bid_fen=5000), sim("beta", bid_fen=3000, accept_rate=0.0)]
    settings = {"policy": "waterfall", "waterfall": {"near_prime": ["beta", "alpha"]}}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with (
        partner_stack(db_target, tmp_path / "a", sims, **settings) as a,
        partner_stack(db_target, tmp_path / "b", sims, **settings) as b,
    ):
        leads = []
        for _ in range(4):  # beta rejects, alpha accepts each lead: two post verdicts per lead, on a
            leads.append((await a.route(applicant())).lead_id)
            await a.drain()
        for lead_id in leads[:2]:
            await a.leads.ReportLeadOutcome(outcome(lead_id, "alpha", FUNDED, 1_000_000), metadata=auth("alpha"))
        at = a.clock.now().timestamp()
        assert beliefs(b.desk.learner, at) != beliefs(a.desk.learner, at)
        assert await b.desk.take_in() == 10
        assert await b.desk.take_in() == 0  # applied once
        assert await a.desk.take_in() == 0  # its own were learned live
        assert beliefs(b.desk.learner, at) == beliefs(a.desk.learner, at)
        assert dict(b.desk.learner.pending_by_partner()) == {"alpha": 2}
        await b.route(applicant())
        await b.drain()
        assert await a.desk.take_in() == 2
        assert beliefs(a.desk.learner, at) == beliefs(b.desk.learner, at)
