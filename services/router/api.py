"""gRPC servicers of skylane.router.v1 RouterService and RouterOpsService: validate, call a use case, map.

Each servicer is handed the use cases it calls (app.py builds them), never the App.
"""

from __future__ import annotations

import grpc

from services.common.idempotency import require_key
from services.router import validation
from services.router.mapping import what_if_proto
from services.router.service.decisions import RecordedDecisions
from services.router.service.loans import LoansDrawn
from services.router.service.policies import PolicyController
from services.router.service.policy_changes import PolicyChanges
from services.router.service.reports import PolicyReports
from services.router.service.routing import RoutingService
from services.router.service.what_if import WhatIf
from skylane.router.v1 import router_pb2, router_pb2_grpc


class RouterServicer(router_pb2_grpc.RouterServiceServicer):
    def __init__(
        self, policies: PolicyController, routing: RoutingService, decisions: RecordedDecisions, loans: LoansDrawn
    ) -> None:
        self.policies, self.routing, self.decisions, self.loans = policies, routing, decisions, loans

    async def RouteApplicant(
        self, request: router_pb2.RouteApplicantRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.RoutingDecision:
        # Checked against the snapshot in force: its channels and tag declarations.
        command = validation.to_command(request, self.policies.snapshot)
        return await self.routing.route(command)

    async def GetDecision(
        self, request: router_pb2.GetDecisionRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.RecordedDecision:
        validation.required("decision_id", request.decision_id)
        return await self.decisions.get(request.decision_id)

    async def RecordLoanDrawn(
        self, request: router_pb2.RecordLoanDrawnRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.RecordLoanDrawnResponse:
        drawn_at = validation.loan_drawn(request, self.loans.clock.now())
        return await self.loans.record(request, drawn_at)


class RouterOpsServicer(router_pb2_grpc.RouterOpsServiceServicer):
    def __init__(self, changes: PolicyChanges, reports: PolicyReports, what_if: WhatIf) -> None:
        self.changes, self.reports, self.what_if = changes, reports, what_if

    async def ListPolicyVersions(
        self, request: router_pb2.ListPolicyVersionsRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.ListPolicyVersionsResponse:
        return await self.reports.versions()

    async def ActivatePolicyVersion(
        self, request: router_pb2.ActivatePolicyVersionRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.PolicyState:
        require_key(request)
        validation.required("version", request.version)
        return await self.changes.activate(request)

    async def RollbackPolicy(
        self, request: router_pb2.RollbackPolicyRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.PolicyState:
        require_key(request)
        return await self.changes.rollback(request)

    async def SetCandidate(
        self, request: router_pb2.SetCandidateRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.PolicyState:
        require_key(request)
        mode = validation.candidate_mode(request)
        return await self.changes.set_candidate(request, mode)

    async def WhatIf(
        self, request: router_pb2.WhatIfRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.WhatIfResponse:
        start, end = validation.what_if_window(request)
        result = await self.what_if.replay(
            config_yaml=request.config_yaml if request.WhichOneof("candidate") == "config_yaml" else None,
            version=request.version,
            start=start,
            end=end,
            max_samples=request.max_samples or 20,
        )
        return what_if_proto(result)

    async def GetRoutingReport(
        self, request: router_pb2.GetRoutingReportRequest, context: grpc.aio.ServicerContext
    ) -> router_pb2.RoutingReport:
        start, end = validation.report_window(request)
        return await self.reports.routing(start, end)
