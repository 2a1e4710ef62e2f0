"""The router's domain values as skylane.router.v1 messages.

One place for the wire shape: the servicers map answers with it, and the use cases whose answers are
recorded verbatim (a RouteApplicant decision is stored as the bytes sent, so a retry or a sticky repeat is
answered byte for byte) build those answers with it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from services.router.domain import control as ctl
from services.router.domain.model import Arm, Destination, Mode, PolicyDecision, Reason
from services.router.domain.reports import MIX_KEYS, RoutingMix, VersionFigures, role, shares
from services.router.domain.whatif import Mix, WhatIfResult
from skylane.router.v1 import router_pb2

DESTINATION_PROTO = {
    Destination.IN_HOUSE: router_pb2.DESTINATION_IN_HOUSE,
    Destination.PARTNER_POOL: router_pb2.DESTINATION_PARTNER_POOL,
    Destination.DECLINED: router_pb2.DESTINATION_DECLINED,
}
ARM_PROTO = {Arm.CHAMPION: router_pb2.POLICY_ARM_CHAMPION, Arm.CANDIDATE: router_pb2.POLICY_ARM_CANDIDATE}
MODE_PROTO = {
    Mode.NONE: router_pb2.CANDIDATE_MODE_UNSPECIFIED,
    Mode.SHADOW: router_pb2.CANDIDATE_MODE_SHADOW,
    Mode.ROLLOUT: router_pb2.CANDIDATE_MODE_ROLLOUT,
}
MODE_FROM_PROTO = {v: k for k, v in MODE_PROTO.items()}


def stamp(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


def reason_protos(reasons: Iterable[Reason]) -> list[router_pb2.Reason]:
    return [router_pb2.Reason(code=r.code, message=r.message) for r in reasons]


def reasons_json(reasons: Sequence[Reason]) -> str:
    return json.dumps([[r.code, r.message] for r in reasons], ensure_ascii=False)


def reasons_from_json(raw: str) -> tuple[Reason, ...]:
    return tuple(Reason(code, message) for code, message in json.loads(raw))


def decision_proto(
    decision: PolicyDecision,
    decision_id: str,
    decided_at: datetime,
    config_version: str,
    channel: str,
    partner: router_pb2.PartnerRouting | None = None,
) -> router_pb2.RoutingDecision:
    message = router_pb2.RoutingDecision(
        decision_id=decision_id,
        tier=decision.tier,
        score=decision.score,
        destination=DESTINATION_PROTO[decision.destination],
        product_id=decision.product_id,
        reasons=reason_protos(decision.reasons),
        config_version=config_version,
        policy_version=decision.policy_version,
        arm=ARM_PROTO[decision.arm],
        decided_at=stamp(decided_at),
        channel=channel,
    )
    if partner is not None:
        message.partner.CopyFrom(partner)
    return message


def state_proto(state: ctl.ControlState, config_version: str) -> router_pb2.PolicyState:
    return router_pb2.PolicyState(
        champion_version=state.champion,
        candidate_version=state.candidate or "",
        mode=MODE_PROTO[state.mode],
        share=state.share,
        config_version=config_version,
    )


def versions_proto(
    state: ctl.ControlState,
    config_version: str,
    versions: Iterable[Any],
    history: Iterable[Any],
    figures: dict[str, VersionFigures],
) -> router_pb2.ListPolicyVersionsResponse:
    """Known versions newest first with what each did, and the champion/candidate history."""
    response = router_pb2.ListPolicyVersionsResponse(state=state_proto(state, config_version))
    for row in sorted(versions, key=lambda r: r.first_seen_at, reverse=True):
        f = figures.get(row.version, VersionFigures())
        response.versions.append(
            router_pb2.PolicyVersionInfo(
                version=row.version,
                role=role(row.version, state),
                source=row.source,
                first_seen_at=stamp(row.first_seen_at),
                acted=f.acted,
                shadowed=f.shadowed,
                agreed=f.agreed,
                agreement=f.agreement,
                acted_by_destination=dict(f.by_destination),
                fallbacks=f.fallbacks,
            )
        )
    for h in history:
        response.history.append(
            router_pb2.PolicyHistoryEntry(
                at=stamp(h.at),
                action=h.action,
                champion_version=h.champion,
                candidate_version=h.candidate or "",
                mode=MODE_PROTO[Mode(h.mode)],
                share=h.share,
            )
        )
    return response


def _mix(mix: Mix) -> router_pb2.DecisionMix:
    return router_pb2.DecisionMix(by_tier=dict(mix.by_tier), by_destination=dict(mix.by_destination))


def what_if_proto(result: WhatIfResult) -> router_pb2.WhatIfResponse:
    return router_pb2.WhatIfResponse(
        candidate_version=result.candidate_version,
        replayed=result.replayed,
        before=_mix(result.before),
        after=_mix(result.after),
        changed=result.changed,
        samples=[
            router_pb2.ChangedDecision(
                decision_id=c.before.decision_id,
                tier_before=c.before.tier,
                tier_after=c.after.tier,
                destination_before=DESTINATION_PROTO[c.before.destination],
                destination_after=DESTINATION_PROTO[c.after.destination],
                score_before=c.before.score,
                score_after=c.after.score,
                reasons_before=reason_protos(c.before.reasons),
                reasons_after=reason_protos(c.after.reasons),
            )
            for c in result.samples
        ],
    )


def report_proto(mix: RoutingMix, capacity: Iterable[Any], caps: dict[str, int]) -> router_pb2.RoutingReport:
    """The mix with each key's share of live decisions, and in-house capacity used per day."""
    by = {
        key: [
            router_pb2.CountShare(key=k, count=n, share=s)
            for k, n, s in shares(mix.by[key], mix.total, ordered_by_key=key == "day")
        ]
        for key in MIX_KEYS
    }
    return router_pb2.RoutingReport(
        total=mix.total,
        by_tier=by["tier"],
        by_destination=by["destination"],
        by_channel=by["channel"],
        by_day=by["day"],
        capacity=[
            router_pb2.CapacityUse(day=c.day, product_id=c.product_id, used=c.used, cap=caps.get(c.product_id, 0))
            for c in capacity
        ],
        sticky_repeats=mix.repeats,
    )
