"""gRPC servicers of skylane.router.v1: validate, map proto ⇄ domain, delegate."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import grpc

from services.common.errors import FailedPrecondition, NotFound, Violations
from services.common.idempotency import require_key
from services.router.domain import control as ctl
from services.router.domain.model import Arm, Destination, Mode, PolicyDecision, Reason
from services.router.ops import MODE_FROM_PROTO, state_proto
from services.router.service import decision_proto
from services.router.store import control as control_store
from services.router.store import decisions as store
from services.router.validation import to_command
from skylane.router.v1 import router_pb2, router_pb2_grpc

if TYPE_CHECKING:
    from services.router.app import RouterApp


def _shadow_proto(row: Any, channel: str) -> router_pb2.RoutingDecision:
    decision = PolicyDecision(
        policy_version=row.policy_version,
        arm=Arm(row.arm),
        tier=row.tier,
        score=row.score,
        destination=Destination(row.destination),
        product_id=row.product_id,
        reasons=tuple(Reason(c, m) for c, m in json.loads(row.reasons_json)),
    )
    return decision_proto(decision, row.id, row.decided_at, row.config_version, channel)


class RouterServicer(router_pb2_grpc.RouterServiceServicer):
    def __init__(self, app: RouterApp) -> None:
        self.app = app

    async def RouteApplicant(
        self, request: router_pb2.RouteApplicantRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.RoutingDecision:
        command = to_command(request, self.app.policies.snapshot)
        return await self.app.routing.route(command)

    async def GetDecision(
        self, request: router_pb2.GetDecisionRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.RecordedDecision:
        v = Violations()
        v.check(bool(request.decision_id), "decision_id", "required")
        v.raise_if_any()
        async with self.app.db.read() as session:
            row, shadow = await store.get_with_shadow(session, request.decision_id)
        if row is None or row.kind == "shadow":
            raise NotFound("decision", request.decision_id)
        out = router_pb2.RecordedDecision(
            decision=router_pb2.RoutingDecision.FromString(row.response), inputs_json=row.inputs_json
        )
        if shadow is not None:
            out.shadow.CopyFrom(_shadow_proto(shadow, row.channel))
        return out


class RouterOpsServicer(router_pb2_grpc.RouterOpsServiceServicer):
    def __init__(self, app: RouterApp) -> None:
        self.app = app

    async def ListPolicyVersions(
        self, request: router_pb2.ListPolicyVersionsRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.ListPolicyVersionsResponse:
        return await self.app.ops.list_versions()

    def _to_proto(self, state: ctl.ControlState) -> router_pb2.PolicyState:
        return state_proto(state, self.app.config.current.version)

    async def ActivatePolicyVersion(
        self, request: router_pb2.ActivatePolicyVersionRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.PolicyState:
        require_key(request)
        v = Violations()
        v.check(bool(request.version), "version", "required")
        v.raise_if_any()
        policies = self.app.policies

        async def compute(
            session: Any, state: ctl.ControlState, _: list[ctl.HistoryEvent]
        ) -> tuple[ctl.ControlState, str]:
            await policies.resolve_version(session, request.version)
            return ctl.activate(state, request.version), "activate"

        return await policies.change(
            "RouterOpsService.ActivatePolicyVersion", request, router_pb2.PolicyState, compute, self._to_proto
        )

    async def RollbackPolicy(
        self, request: router_pb2.RollbackPolicyRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.PolicyState:
        require_key(request)

        async def compute(
            session: Any, state: ctl.ControlState, history: list[ctl.HistoryEvent]
        ) -> tuple[ctl.ControlState, str]:
            previous = ctl.previous_champion(history, state.champion)
            if previous is None:
                raise FailedPrecondition("NO_PREVIOUS_VERSION", "there is no earlier champion to roll back to")
            return ctl.activate(state, previous), "rollback"

        return await self.app.policies.change(
            "RouterOpsService.RollbackPolicy", request, router_pb2.PolicyState, compute, self._to_proto
        )

    async def SetCandidate(
        self, request: router_pb2.SetCandidateRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.PolicyState:
        require_key(request)
        v = Violations()
        mode = MODE_FROM_PROTO.get(request.mode)
        which = request.WhichOneof("candidate")
        if mode is None:
            v.add("mode", "unknown mode")
        elif mode != Mode.NONE and which is None:
            v.add("version", "give a policy version or a config_yaml document")
        if not 0.0 <= request.share <= 1.0:
            v.add("share", "must be between 0 and 1")
        v.raise_if_any()
        policies = self.app.policies
        submitted: tuple[Any, dict[str, Any]] | None = None
        if mode != Mode.NONE and which == "config_yaml":
            submitted = policies.resolve_yaml(request.config_yaml)

        async def compute(
            session: Any, state: ctl.ControlState, _: list[ctl.HistoryEvent]
        ) -> tuple[ctl.ControlState, str]:
            if mode == Mode.NONE or mode is None:
                return ctl.set_candidate(state, None, Mode.NONE, 0.0), "set_candidate"
            if submitted is not None:
                compiled, document = submitted
                now = self.app.clock.now()
                await control_store.register_versions(
                    session, self.app.db.dialect, {compiled.version: document}, "rpc", now
                )
                policies.compiled.setdefault(compiled.version, compiled)
                version = compiled.version
            else:
                version = (await policies.resolve_version(session, request.version)).version
            if version == state.champion:
                raise FailedPrecondition(
                    "CANDIDATE_IS_CHAMPION", f"version {version} is already the champion", subject=version
                )
            share = request.share if mode == Mode.ROLLOUT else 0.0
            return ctl.set_candidate(state, version, mode, share), "set_candidate"

        return await policies.change(
            "RouterOpsService.SetCandidate", request, router_pb2.PolicyState, compute, self._to_proto
        )

    async def WhatIf(
        self, request: router_pb2.WhatIfRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.WhatIfResponse:
        return await self.app.ops.what_if(request)

    async def GetRoutingReport(
        self, request: router_pb2.GetRoutingReportRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.RoutingReport:
        return await self.app.ops.report(request)
