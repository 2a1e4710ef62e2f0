"""Ops reads: policy versions with statistics, what-if replays and routing reports."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from services.common.db import Database
from services.common.errors import Violations
from services.router.domain import control as ctl
from services.router.domain.model import Destination, Facts, Mode, Reason
from services.router.domain.whatif import RecordedDecision, replay
from services.router.policies import PolicyController
from services.router.service import DESTINATION_PROTO
from services.router.store import control as control_store
from services.router.store import decisions as store
from skylane.common.v1 import types_pb2
from skylane.router.v1 import router_pb2

MODE_PROTO = {
    Mode.NONE: router_pb2.CANDIDATE_MODE_UNSPECIFIED,
    Mode.SHADOW: router_pb2.CANDIDATE_MODE_SHADOW,
    Mode.ROLLOUT: router_pb2.CANDIDATE_MODE_ROLLOUT,
}
MODE_FROM_PROTO = {v: k for k, v in MODE_PROTO.items()}
MAX_WINDOW = timedelta(days=92)


def stamp(when: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(when)
    return out


def state_proto(state: ctl.ControlState, config_version: str) -> router_pb2.PolicyState:
    return router_pb2.PolicyState(
        champion_version=state.champion,
        candidate_version=state.candidate or "",
        mode=MODE_PROTO[state.mode],
        share=state.share,
        config_version=config_version,
    )


def check_window(v: Violations, window: types_pb2.TimeWindow, path: str = "window") -> tuple[datetime, datetime]:
    start = window.start.ToDatetime(tzinfo=UTC) if window.HasField("start") else None
    end = window.end.ToDatetime(tzinfo=UTC) if window.HasField("end") else None
    if start is None:
        v.add(f"{path}.start", "required")
    if end is None:
        v.add(f"{path}.end", "required")
    if start is not None and end is not None:
        if end <= start:
            v.add(f"{path}.end", "must be after start")
        elif end - start > MAX_WINDOW:
            v.add(f"{path}.end", f"window must be at most {MAX_WINDOW.days} days")
    return start or datetime.min.replace(tzinfo=UTC), end or datetime.min.replace(tzinfo=UTC)


def _reasons(raw: str) -> tuple[Reason, ...]:
    return tuple(Reason(code, message) for code, message in json.loads(raw))


def _reason_protos(reasons: tuple[Reason, ...]) -> list[router_pb2.Reason]:
    return [router_pb2.Reason(code=r.code, message=r.message) for r in reasons]


def _mix(mix: Any) -> router_pb2.DecisionMix:
    return router_pb2.DecisionMix(by_tier=dict(mix.by_tier), by_destination=dict(mix.by_destination))


class RouterOps:
    def __init__(self, db: Database, policies: PolicyController) -> None:
        self.db, self.policies = db, policies

    async def list_versions(self) -> router_pb2.ListPolicyVersionsResponse:
        await self.policies.settle()
        snap = self.policies.snapshot
        async with self.db.report() as session:
            versions = await control_store.load_versions(session)
            history = await control_store.load_history_rows(session)
            stats = await store.version_stats(session)
        acted: Counter[str] = Counter()
        shadowed: Counter[str] = Counter()
        agreed: Counter[str] = Counter()
        fallbacks: Counter[str] = Counter()
        by_destination: dict[str, Counter[str]] = defaultdict(Counter)
        for row in stats:
            if row.kind == "live":
                acted[row.policy_version] += row.n
                by_destination[row.policy_version][row.destination] += row.n
                fallbacks[row.policy_version] += int(row.fallbacks or 0)
            else:
                shadowed[row.policy_version] += row.n
                agreed[row.policy_version] += int(row.agreed or 0)
        response = router_pb2.ListPolicyVersionsResponse(state=state_proto(snap.state, snap.config_version))
        for row in sorted(versions, key=lambda r: r.first_seen_at, reverse=True):
            role = (
                "champion"
                if row.version == snap.state.champion
                else "candidate"
                if row.version == snap.state.candidate
                else "retired"
            )
            v = row.version
            response.versions.append(
                router_pb2.PolicyVersionInfo(
                    version=v,
                    role=role,
                    source=row.source,
                    first_seen_at=stamp(row.first_seen_at),
                    acted=acted[v],
                    shadowed=shadowed[v],
                    agreed=agreed[v],
                    agreement=agreed[v] / shadowed[v] if shadowed[v] else 0.0,
                    acted_by_destination=dict(by_destination[v]),
                    fallbacks=fallbacks[v],
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

    async def what_if(self, request: router_pb2.WhatIfRequest) -> router_pb2.WhatIfResponse:
        v = Violations()
        start, end = check_window(v, request.window)
        which = request.WhichOneof("candidate")
        if which is None:
            v.add("version", "give a policy version or a config_yaml document")
        if not 0 <= request.max_samples <= 200:
            v.add("max_samples", "must be between 0 and 200")
        v.raise_if_any()
        max_samples = request.max_samples or 20
        async with self.db.report() as session:
            if which == "config_yaml":
                candidate, _ = self.policies.resolve_yaml(request.config_yaml)
            else:
                candidate = await self.policies.resolve_version(session, request.version)
            rows = await store.live_in_window(session, start, end)
        recorded = (
            RecordedDecision(
                decision_id=r.id,
                facts=Facts.from_json(r.applicant_ref, json.loads(r.inputs_json)),
                local_day=r.local_day,
                tier=r.tier,
                destination=Destination(r.destination),
                score=r.score,
                reasons=_reasons(r.reasons_json),
            )
            for r in rows
        )
        result = replay(recorded, candidate, max_samples)
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
                    reasons_before=_reason_protos(c.before.reasons),
                    reasons_after=_reason_protos(c.after.reasons),
                )
                for c in result.samples
            ],
        )

    async def report(self, request: router_pb2.GetRoutingReportRequest) -> router_pb2.RoutingReport:
        v = Violations()
        start, end = check_window(v, request.window)
        v.raise_if_any()
        snap = self.policies.snapshot
        first_day = start.astimezone(snap.zone).date().isoformat()
        last_day = (end - timedelta(microseconds=1)).astimezone(snap.zone).date().isoformat()
        async with self.db.report() as session:
            groups = await store.report_groups(session, start, end)
            capacity = await store.capacity_between(session, first_day, last_day)
        by: dict[str, Counter[str]] = {k: Counter() for k in ("tier", "destination", "channel", "day")}
        total = repeats = 0
        for g in groups:
            if g.kind == "repeat":
                repeats += g.n
                continue
            total += g.n
            by["tier"][g.tier] += g.n
            by["destination"][g.destination] += g.n
            by["channel"][g.channel] += g.n
            by["day"][g.local_day] += g.n

        def shares(counter: Counter[str], ordered_by_key: bool = False) -> list[router_pb2.CountShare]:
            items = (
                sorted(counter.items()) if ordered_by_key else sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
            )
            return [router_pb2.CountShare(key=k, count=n, share=n / total if total else 0.0) for k, n in items]

        in_house = snap.champion.policy.in_house
        caps = {in_house.product_id: in_house.daily_cap} if in_house else {}
        return router_pb2.RoutingReport(
            total=total,
            by_tier=shares(by["tier"]),
            by_destination=shares(by["destination"]),
            by_channel=shares(by["channel"]),
            by_day=shares(by["day"], ordered_by_key=True),
            capacity=[
                router_pb2.CapacityUse(day=c.day, product_id=c.product_id, used=c.used, cap=caps.get(c.product_id, 0))
                for c in capacity
            ],
            sticky_repeats=repeats,
        )
