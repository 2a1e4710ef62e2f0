"""GetDecision: a recorded live decision as it was answered, with its inputs and its shadow."""

from __future__ import annotations

from typing import Any

from services.common.db import Database
from services.common.errors import NotFound
from services.router.domain.model import Arm, Destination, PolicyDecision
from services.router.mapping import decision_proto, reasons_from_json
from services.router.store import decisions as store
from skylane.router.v1 import router_pb2


def _shadow(row: Any, channel: str) -> router_pb2.RoutingDecision:
    decision = PolicyDecision(
        policy_version=row.policy_version,
        arm=Arm(row.arm),
        tier=row.tier,
        score=row.score,
        destination=Destination(row.destination),
        product_id=row.product_id,
        reasons=reasons_from_json(row.reasons_json),
    )
    return decision_proto(decision, row.id, row.decided_at, row.config_version, channel)


class RecordedDecisions:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, decision_id: str) -> router_pb2.RecordedDecision:
        """A shadow was never anyone's answer, so its own id finds nothing; it comes with the decision it shadows."""
        async with self.db.read() as session:
            row, shadow = await store.get_with_shadow(session, decision_id)
        if row is None or row.kind == "shadow":
            raise NotFound("decision", decision_id)
        out = router_pb2.RecordedDecision(
            decision=router_pb2.RoutingDecision.FromString(row.response), inputs_json=row.inputs_json
        )
        if shadow is not None:
            out.shadow.CopyFrom(_shadow(shadow, row.channel))
        return out
