"""Ops changes of the policy in force: activate a version, roll back, set or clear the candidate.

Each is one idempotent unit of work through PolicyController.change, which serialises changes, records
the history and swaps the snapshot the next decision reads.
"""

from __future__ import annotations

from typing import Any

from services.common.errors import FailedPrecondition
from services.router.domain import control as ctl
from services.router.domain.model import Mode
from services.router.domain.policy import CompiledPolicy
from services.router.mapping import state_proto
from services.router.service.policies import PolicyController
from skylane.router.v1 import router_pb2


class PolicyChanges:
    def __init__(self, policies: PolicyController) -> None:
        self.policies = policies

    def _answer(self, state: ctl.ControlState) -> router_pb2.PolicyState:
        return state_proto(state, self.policies.config.current.version)

    async def activate(self, request: router_pb2.ActivatePolicyVersionRequest) -> router_pb2.PolicyState:
        """Makes a known version the champion (a candidate of the same version stops being one)."""
        policies = self.policies

        async def compute(
            session: Any, state: ctl.ControlState, _: list[ctl.HistoryEvent]
        ) -> tuple[ctl.ControlState, str]:
            await policies.resolve_version(session, request.version)
            return ctl.activate(state, request.version), "activate"

        return await policies.change(
            "RouterOpsService.ActivatePolicyVersion", request, router_pb2.PolicyState, compute, self._answer
        )

    async def rollback(self, request: router_pb2.RollbackPolicyRequest) -> router_pb2.PolicyState:
        """Restores the champion in force before the current one."""

        async def compute(
            session: Any, state: ctl.ControlState, history: list[ctl.HistoryEvent]
        ) -> tuple[ctl.ControlState, str]:
            previous = ctl.previous_champion(history, state.champion)
            if previous is None:
                raise FailedPrecondition("NO_PREVIOUS_VERSION", "there is no earlier champion to roll back to")
            return ctl.activate(state, previous), "rollback"

        return await self.policies.change(
            "RouterOpsService.RollbackPolicy", request, router_pb2.PolicyState, compute, self._answer
        )

    async def set_candidate(self, request: router_pb2.SetCandidateRequest, mode: Mode) -> router_pb2.PolicyState:
        """Sets the candidate (a known version, or a policy sent as a config document, which becomes a known
        version in the same unit of work) in shadow or rollout mode, or clears it (Mode.NONE)."""
        policies = self.policies
        submitted: tuple[CompiledPolicy, dict[str, Any]] | None = None
        if mode != Mode.NONE and request.WhichOneof("candidate") == "config_yaml":
            submitted = policies.resolve_yaml(request.config_yaml)

        async def compute(
            session: Any, state: ctl.ControlState, _: list[ctl.HistoryEvent]
        ) -> tuple[ctl.ControlState, str]:
            if mode == Mode.NONE:
                return ctl.set_candidate(state, None, Mode.NONE, 0.0), "set_candidate"
            if submitted is not None:
                await policies.register_submitted(session, *submitted)
                version = submitted[0].version
            else:
                version = (await policies.resolve_version(session, request.version)).version
            if version == state.champion:
                raise FailedPrecondition(
                    "CANDIDATE_IS_CHAMPION", f"version {version} is already the champion", subject=version
                )
            share = request.share if mode == Mode.ROLLOUT else 0.0
            return ctl.set_candidate(state, version, mode, share), "set_candidate"

        return await policies.change(
            "RouterOpsService.SetCandidate", request, router_pb2.PolicyState, compute, self._answer
        )
