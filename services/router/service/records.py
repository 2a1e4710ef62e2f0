"""The rows a decision batch writes: a live decision with its shadow, and a sticky repeat.

A live row carries the request's idempotency key and fingerprint and the answer as sent, so a retry is
answered from it byte for byte; its shadow (the other arm's decision) is paired with it and never answered.
"""

from __future__ import annotations

import itertools
import json
import os
from datetime import datetime
from typing import Any

from services.router.domain.model import Reason
from services.router.mapping import reasons_json
from services.router.service.commands import RouteCommand, RouteOutcome
from skylane.router.v1 import router_pb2

# Decision ids: a random per-process prefix and a counter; unique across processes and restarts
# without a urandom syscall per id on the hot path.
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


def new_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


def live_rows(outcome: RouteOutcome, response: router_pb2.RoutingDecision, day: str) -> list[dict[str, Any]]:
    """The live decision's row, and its shadow's when a candidate was evaluated beside it."""
    c, d = outcome.command, outcome.decision
    common = {
        "applicant_ref": c.applicant_ref,
        "device_ref": c.device_ref,
        "channel": c.channel,
        "scenario": c.scenario,
        "config_version": outcome.config_version,
        "decided_at": outcome.decided_at,
        "local_day": day,
        "inputs_json": json.dumps(outcome.facts.to_json(), ensure_ascii=False, sort_keys=True),
    }
    rows = [
        {
            **common,
            "id": outcome.decision_id,
            "kind": "live",
            "idempotency_key": c.key,
            "fingerprint": c.fingerprint,
            "tier": d.tier,
            "score": d.score,
            "destination": d.destination.value,
            "product_id": d.product_id,
            "reasons_json": reasons_json(d.reasons),
            "policy_version": d.policy_version,
            "arm": d.arm.value,
            "paired_id": None,
            "agrees": None,
            "fallback": outcome.fallback,
            "response": response.SerializeToString(deterministic=True),
        }
    ]
    s = outcome.shadow
    if s is not None:
        rows.append(
            {
                **common,
                "id": new_id(),
                "kind": "shadow",
                "idempotency_key": None,
                "fingerprint": None,
                "tier": s.tier,
                "score": s.score,
                "destination": s.destination.value,
                "product_id": s.product_id,
                "reasons_json": reasons_json(s.reasons),
                "policy_version": s.policy_version,
                "arm": s.arm.value,
                "paired_id": outcome.decision_id,
                "agrees": s.same_outcome(d),
                "fallback": False,
                "response": None,
            }
        )
    return rows


def repeat_row(c: RouteCommand, original: router_pb2.RoutingDecision, now: datetime, day: str) -> dict[str, Any]:
    """A sticky repeat: the earlier decision's answer again, under this request's key, paired with it."""
    return {
        "id": new_id(),
        "kind": "repeat",
        "idempotency_key": c.key,
        "fingerprint": c.fingerprint,
        "applicant_ref": c.applicant_ref,
        "device_ref": c.device_ref,
        "channel": c.channel,
        "scenario": c.scenario,
        "tier": original.tier,
        "score": original.score,
        "destination": router_pb2.Destination.Name(original.destination).removeprefix("DESTINATION_"),
        "product_id": original.product_id,
        "reasons_json": reasons_json([Reason(r.code, r.message) for r in original.reasons]),
        "config_version": original.config_version,
        "policy_version": original.policy_version,
        "arm": router_pb2.PolicyArm.Name(original.arm).removeprefix("POLICY_ARM_"),
        "paired_id": original.decision_id,
        "agrees": None,
        "fallback": False,
        "decided_at": now,
        "local_day": day,
        "inputs_json": "{}",
        "response": original.SerializeToString(deterministic=True),
    }
