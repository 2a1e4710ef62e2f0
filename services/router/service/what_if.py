"""What-if: recorded live decisions replayed under a candidate policy, without touching live state."""

from __future__ import annotations

import json
from datetime import datetime

from services.common.db import Database
from services.router.domain.model import Destination, Facts
from services.router.domain.whatif import RecordedDecision, WhatIfResult, replay
from services.router.mapping import reasons_from_json
from services.router.service.policies import PolicyController
from services.router.store import decisions as store


class WhatIf:
    def __init__(self, db: Database, policies: PolicyController) -> None:
        self.db, self.policies = db, policies

    async def replay(
        self, *, config_yaml: str | None, version: str, start: datetime, end: datetime, max_samples: int
    ) -> WhatIfResult:
        """The candidate is a config document (checked like a reload) or a known version."""
        async with self.db.report() as session:
            if config_yaml is not None:
                candidate, _ = self.policies.resolve_yaml(config_yaml)
            else:
                candidate = await self.policies.resolve_version(session, version)
            rows = await store.live_in_window(session, start, end)
        recorded = (
            RecordedDecision(
                decision_id=r.id,
                facts=Facts.from_json(r.applicant_ref, json.loads(r.inputs_json)),
                local_day=r.local_day,
                tier=r.tier,
                destination=Destination(r.destination),
                score=r.score,
                reasons=reasons_from_json(r.reasons_json),
            )
            for r in rows
        )
        return replay(recorded, candidate, max_samples)
