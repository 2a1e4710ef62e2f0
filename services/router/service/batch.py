"""The named steps of deciding one batch of RouteApplicant requests, in arrival order.

1. `take` each request: a retry (its key was seen, in the database or earlier in the batch), a sticky
   repeat (the applicant's newest live decision is inside the stickiness window), or a new decision
   evaluated by both arms with everything but in-house capacity settled;
2. `settle` the new decisions against the in-house capacity counters, in arrival order;
3. `answers_and_rows`: every request's answer, and the rows the batch records.

Later requests see earlier ones of the same batch exactly as if they had been decided one by one: a
retry of a key used earlier in the batch replays it, an applicant decided earlier in the batch is
sticky to that decision, and earlier decisions count toward velocity at age zero.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.common.errors import AlreadyExists
from services.router.domain.history import History, ages, is_sticky, sticky_repeat
from services.router.domain.model import Facts
from services.router.domain.routing import ArmEvaluations, CapacityLedger, evaluate_arms, settle
from services.router.mapping import decision_proto
from services.router.service.commands import RouteCommand, RouteOutcome
from services.router.service.policies import Snapshot
from services.router.service.records import live_rows, new_id, repeat_row
from skylane.router.v1 import router_pb2


@dataclass
class Plan:
    """What one queued request turned into while its batch is being decided."""

    command: RouteCommand
    future: asyncio.Future[router_pb2.RoutingDecision]
    kind: str = "live"  # live | repeat | replay (same key seen before) | error
    stored: bytes | None = None  # replay/repeat of a row already in the database
    source: Plan | None = None  # replay/repeat of a plan earlier in this batch
    error: Exception | None = None
    decision_id: str = ""
    facts: Facts | None = None
    arms: ArmEvaluations | None = None
    outcome: RouteOutcome | None = None
    response: router_pb2.RoutingDecision | None = None

    def reset(self) -> None:
        """Back to undecided, for another attempt of the batch."""
        self.kind, self.stored, self.source, self.error = "live", None, None, None
        self.decision_id, self.facts, self.arms, self.outcome, self.response = "", None, None, None, None


@dataclass
class Batch:
    """One batch being decided: the policy snapshot and instant it is decided under, the history the
    lookup found, and what its requests so far have become."""

    plans: list[Plan]
    snap: Snapshot
    now: datetime
    history: History
    day: str = ""
    keys: dict[str, Plan] = field(default_factory=dict)
    live_by_applicant: dict[str, list[Plan]] = field(default_factory=lambda: defaultdict(list))
    live_by_device: dict[str, list[Plan]] = field(default_factory=lambda: defaultdict(list))
    # In-house capacity counters the new decisions may claim: (product, local day).
    wanted: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.day = self.now.astimezone(self.snap.zone).date().isoformat()

    # -- step 1 ----------------------------------------------------------------------------------

    def take(self, plan: Plan) -> None:
        """Decides what the request is, in arrival order."""
        if not self._retry(plan) and not self._sticky(plan):
            self._evaluate(plan)

    def _retry(self, plan: Plan) -> bool:
        """A key seen before answers with its first response; under a different request it is refused."""
        c = plan.command
        earlier = self.keys.get(c.key)
        stored: Any = self.history.by_key.get(c.key)
        if earlier is None and stored is None:
            self.keys[c.key] = plan
            return False
        first_fingerprint = earlier.command.fingerprint if earlier is not None else stored.fingerprint
        if first_fingerprint != c.fingerprint:
            plan.kind = "error"
            plan.error = AlreadyExists(
                f"idempotency key {c.key!r} was already used for a different RouteApplicant request",
                reason="IDEMPOTENCY_KEY_REUSED",
            )
        elif earlier is not None:
            plan.kind, plan.source = "replay", earlier
        else:
            plan.kind, plan.stored = "replay", stored.response
        return True

    def _sticky(self, plan: Plan) -> bool:
        """An applicant decided within the stickiness window gets that decision again (newest first: one
        decided earlier in this batch, at `now`, before one stored)."""
        ref, hours = plan.command.applicant_ref, self.snap.config.stickiness_hours
        in_batch = self.live_by_applicant.get(ref)
        if in_batch and is_sticky(hours, self.now, self.now):
            plan.kind, plan.source = "repeat", in_batch[-1]
            return True
        stored = sticky_repeat(self.history.applicant(ref), hours, self.now)
        if stored is not None:
            plan.kind, plan.stored = "repeat", stored.response
            return True
        return False

    def _evaluate(self, plan: Plan) -> None:
        """A new decision: both arms evaluated on the facts, in-house capacity still to be settled."""
        c, snap = plan.command, self.snap
        device = c.device_ref
        plan.facts = Facts(
            applicant_ref=c.applicant_ref,
            channel=c.channel,
            scenario=c.scenario,
            attributes=c.attributes,
            has_device=device is not None,
            applicant_history=ages(
                self.now, len(self.live_by_applicant.get(c.applicant_ref, ())), self.history.applicant(c.applicant_ref)
            ),
            device_history=(
                ages(self.now, len(self.live_by_device.get(device, ())), self.history.device(device)) if device else ()
            ),
        )
        plan.arms = evaluate_arms(snap.champion, snap.candidate, snap.state, snap.config.rollout_salt, plan.facts)
        plan.decision_id = new_id()
        for evaluation in (plan.arms.acting, plan.arms.shadow):
            if evaluation is not None and evaluation.capacity_claim is not None:
                self.wanted.add((evaluation.capacity_claim.product_id, self.day))
        self.live_by_applicant[c.applicant_ref].append(plan)
        if device:
            self.live_by_device[device].append(plan)

    # -- step 2 ----------------------------------------------------------------------------------

    def settle(self, ledger: CapacityLedger) -> list[RouteOutcome]:
        """The new decisions, final: in-house slots handed out in arrival order."""
        outcomes: list[RouteOutcome] = []
        for plan in self.plans:
            if plan.kind != "live":
                continue
            assert plan.arms is not None and plan.facts is not None
            decision, shadow = settle(plan.arms, ledger, self.day)
            plan.outcome = RouteOutcome(
                plan.command,
                plan.decision_id,
                self.now,
                decision,
                shadow,
                plan.arms.fallback,
                plan.facts,
                self.snap.config_version,
            )
            outcomes.append(plan.outcome)
        return outcomes

    # -- step 3 ----------------------------------------------------------------------------------

    def answers_and_rows(self) -> list[dict[str, Any]]:
        """Sets every request's answer and returns the rows to record. New decisions first, so a retry or a
        repeat of one decided earlier in the batch finds its answer."""
        rows: list[dict[str, Any]] = []
        for plan in self.plans:
            if plan.kind == "live":
                rows.extend(self._answer_live(plan))
        for plan in self.plans:
            if plan.kind in ("repeat", "replay"):
                row = self._answer_again(plan)
                if row is not None:
                    rows.append(row)
        return rows

    def _answer_live(self, plan: Plan) -> list[dict[str, Any]]:
        outcome = plan.outcome
        assert outcome is not None
        d = outcome.decision
        plan.response = decision_proto(
            d, outcome.decision_id, outcome.decided_at, outcome.config_version, plan.command.channel, outcome.partner
        )
        return live_rows(outcome, plan.response, self.day)

    def _answer_again(self, plan: Plan) -> dict[str, Any] | None:
        """A retry gets the first answer as it was; a sticky repeat gets it marked sticky, and is recorded."""
        if plan.source is not None:
            assert plan.source.response is not None
            original = router_pb2.RoutingDecision()
            original.CopyFrom(plan.source.response)
        else:
            assert plan.stored is not None
            original = router_pb2.RoutingDecision.FromString(plan.stored)
        plan.response = original
        if plan.kind != "repeat":
            return None
        original.sticky = True
        return repeat_row(plan.command, original, self.now, self.day)
