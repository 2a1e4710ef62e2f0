"""RouteApplicant's unit of work, with group commit.

Requests are queued and a single writer task decides them in batches: one write transaction per
batch does the idempotency and stickiness/velocity lookup (one SELECT), the in-house capacity
counters (locked, moved once), and one multi-row INSERT of the decisions. Durable records then cost
one commit (one fsync) per batch instead of per request, and the decisions inside a batch are taken
in arrival order exactly as if they had been serial.

Partner routing plugs in through `RoutingHook`: `prepare` runs per request outside the transaction
(e.g. pinging partners), `in_transaction` runs inside the batch's write transaction with every new
decision (e.g. writing the lead and its outbox row) and may set `outcome.partner`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.batching import ArrivalWindow, CallsInFlight
from services.common.clock import Clock
from services.common.db import Database
from services.common.errors import AlreadyExists
from services.common.metrics import ServiceMetrics
from services.router.domain.model import Arm, Destination, Facts, PolicyDecision, Reason
from services.router.domain.policy import finalize
from services.router.domain.routing import ArmEvaluations, CapacityLedger, evaluate_arms
from services.router.domain.tags import TagScalar
from services.router.policies import PolicyController, Snapshot
from services.router.store import decisions as store
from skylane.router.v1 import router_pb2

log = structlog.get_logger("skylane.router.service")

MAX_BATCH = 256

# Decision ids: a random per-process prefix and a counter; unique across processes and restarts
# without a urandom syscall per id on the hot path.
_ID_PREFIX = os.urandom(8).hex()
_ID_COUNTER = itertools.count(1)


def new_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):016x}"


MAX_ATTEMPTS = 3

DESTINATION_PROTO = {
    Destination.IN_HOUSE: router_pb2.DESTINATION_IN_HOUSE,
    Destination.PARTNER_POOL: router_pb2.DESTINATION_PARTNER_POOL,
    Destination.DECLINED: router_pb2.DESTINATION_DECLINED,
}
ARM_PROTO = {Arm.CHAMPION: router_pb2.POLICY_ARM_CHAMPION, Arm.CANDIDATE: router_pb2.POLICY_ARM_CANDIDATE}


@dataclass
class RouteCommand:
    """A validated, de-identified RouteApplicant request. `attributes` is what decides and is recorded (typed
    tags, free text already dropped); `request` is the raw message, for the partner layer's typed fields
    (consents, amount, term, phone hash) only, and is never stored."""

    key: str
    fingerprint: str
    applicant_ref: str
    device_ref: str | None
    channel: str
    scenario: str
    attributes: dict[str, TagScalar]
    request: router_pb2.RouteApplicantRequest
    # Scratch space for hooks (e.g. partner bids gathered in prepare()).
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class RouteOutcome:
    """A new (non-repeat) decision inside the write transaction, as hooks see it."""

    command: RouteCommand
    decision_id: str
    decided_at: datetime
    decision: PolicyDecision
    shadow: PolicyDecision | None
    fallback: bool
    facts: Facts
    config_version: str
    # Set by the partner layer for pool decisions.
    partner: router_pb2.PartnerRouting | None = None


class RoutingHook(Protocol):
    async def prepare(self, command: RouteCommand, snapshot: Snapshot) -> None: ...

    async def in_transaction(self, session: AsyncSession, outcomes: Sequence[RouteOutcome]) -> None: ...


def decision_proto(
    decision: PolicyDecision,
    decision_id: str,
    decided_at: datetime,
    config_version: str,
    channel: str,
    partner: router_pb2.PartnerRouting | None = None,
) -> router_pb2.RoutingDecision:
    stamp = Timestamp()
    stamp.FromDatetime(decided_at)
    message = router_pb2.RoutingDecision(
        decision_id=decision_id,
        tier=decision.tier,
        score=decision.score,
        destination=DESTINATION_PROTO[decision.destination],
        product_id=decision.product_id,
        reasons=[router_pb2.Reason(code=r.code, message=r.message) for r in decision.reasons],
        config_version=config_version,
        policy_version=decision.policy_version,
        arm=ARM_PROTO[decision.arm],
        decided_at=stamp,
        channel=channel,
    )
    if partner is not None:
        message.partner.CopyFrom(partner)
    return message


def reasons_json(reasons: Sequence[Reason]) -> str:
    return json.dumps([[r.code, r.message] for r in reasons], ensure_ascii=False)


@dataclass
class _Plan:
    """What one queued request turned into while its batch is being decided."""

    command: RouteCommand
    future: asyncio.Future[router_pb2.RoutingDecision]
    kind: str = "live"  # live | repeat | replay (same key seen before) | error
    stored: bytes | None = None  # replay/repeat of a row already in the database
    source: _Plan | None = None  # replay/repeat of a plan earlier in this batch
    error: Exception | None = None
    decision_id: str = ""
    facts: Facts | None = None
    arms: ArmEvaluations | None = None
    outcome: RouteOutcome | None = None
    response: router_pb2.RoutingDecision | None = None


class RoutingService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        policies: PolicyController,
        metrics: ServiceMetrics,
        hooks: list[RoutingHook],
        calls: CallsInFlight,
    ) -> None:
        self.db, self.clock, self.policies, self.hooks = db, clock, policies, hooks
        self._queue: asyncio.Queue[_Plan] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._window = ArrivalWindow(calls)
        self._decisions = metrics.counter(
            "skylane_router_decisions_total",
            "Routing decisions by kind, arm and destination",
            ["kind", "arm", "destination"],
        )
        self._batch_sizes = metrics.counter("skylane_router_batches_total", "Write batches committed", [])

    async def route(self, command: RouteCommand) -> router_pb2.RoutingDecision:
        snapshot = self.policies.snapshot
        for hook in self.hooks:
            await hook.prepare(command, snapshot)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._writer())
        future: asyncio.Future[router_pb2.RoutingDecision] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Plan(command, future))
        return await future

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        while not self._queue.empty():
            plan = self._queue.get_nowait()
            if not plan.future.done():
                plan.future.set_exception(RuntimeError("router is shutting down"))

    async def _writer(self) -> None:
        while True:
            batch = await self._window.next_batch(self._queue, MAX_BATCH)
            live = [p for p in batch if not p.future.done()]  # the caller may have gone (deadline)
            if not live:
                continue
            try:
                await self._decide_batch(live)
            except Exception as exc:
                log.exception("route_batch_failed", size=len(live))
                for plan in live:
                    if not plan.future.done():
                        plan.future.set_exception(exc)
            self._window.committed()

    async def _decide_batch(self, batch: list[_Plan]) -> None:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            for plan in batch:
                _reset(plan)
            try:
                await self._decide_once(batch)
                break
            except IntegrityError:
                # Another process committed one of our keys first; the next attempt's lookup sees it.
                if attempt == MAX_ATTEMPTS:
                    raise
        self._batch_sizes.inc()
        for plan in batch:
            if plan.future.done():
                continue
            if plan.error is not None:
                plan.future.set_exception(plan.error)
            else:
                assert plan.response is not None
                plan.future.set_result(plan.response)

    async def _decide_once(self, batch: list[_Plan]) -> None:
        snap = self.policies.snapshot
        now = self.clock.now()
        day = now.astimezone(snap.zone).date().isoformat()
        sticky_since = now - timedelta(hours=snap.config.stickiness_hours)
        since = now - timedelta(hours=snap.lookback_hours)
        commands = [p.command for p in batch]
        async with self.db.transaction() as session:
            await store.lock_applicants(session, self.db.dialect, (c.applicant_ref for c in commands))
            rows = await store.lookup(
                session,
                [c.key for c in commands],
                sorted({c.applicant_ref for c in commands}),
                sorted({c.device_ref for c in commands if c.device_ref}),
                since,
            )
            by_key: dict[str, Any] = {}
            app_rows: dict[str, list[Any]] = defaultdict(list)
            dev_rows: dict[str, list[Any]] = defaultdict(list)
            for row in rows:
                if row.hit == "key":
                    by_key[row.idempotency_key] = row
                elif row.kind != "live":
                    continue  # shadows and sticky repeats neither stick nor count toward velocity
                elif row.hit == "app":
                    app_rows[row.applicant_ref].append(row)
                else:
                    dev_rows[row.device_ref].append(row)

            # Pass 1, in arrival order: retries, sticky repeats, and evaluations of new decisions.
            batch_keys: dict[str, _Plan] = {}
            batch_live_app: dict[str, list[_Plan]] = defaultdict(list)
            batch_live_dev: dict[str, list[_Plan]] = defaultdict(list)
            wanted: set[tuple[str, str]] = set()
            for plan in batch:
                c = plan.command
                earlier = batch_keys.get(c.key)
                stored: Any = by_key.get(c.key)
                if earlier is not None or stored is not None:
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
                    continue
                batch_keys[c.key] = plan
                sticky_batch = batch_live_app.get(c.applicant_ref)
                if sticky_batch and snap.config.stickiness_hours > 0:
                    plan.kind, plan.source = "repeat", sticky_batch[-1]
                    continue
                recent = sorted(app_rows.get(c.applicant_ref, ()), key=lambda r: r.decided_at, reverse=True)
                if recent and recent[0].decided_at >= sticky_since and snap.config.stickiness_hours > 0:
                    plan.kind, plan.stored = "repeat", recent[0].response
                    continue
                device_history: list[float] = []
                if c.device_ref:
                    device_history = [0.0] * len(batch_live_dev.get(c.device_ref, ())) + [
                        (now - r.decided_at).total_seconds()
                        for r in sorted(dev_rows.get(c.device_ref, ()), key=lambda r: r.decided_at, reverse=True)
                    ]
                facts = Facts(
                    applicant_ref=c.applicant_ref,
                    channel=c.channel,
                    scenario=c.scenario,
                    attributes=c.attributes,
                    has_device=c.device_ref is not None,
                    applicant_history=(
                        *([0.0] * len(batch_live_app.get(c.applicant_ref, ()))),
                        *((now - r.decided_at).total_seconds() for r in recent),
                    ),
                    device_history=tuple(device_history),
                )
                plan.facts = facts
                plan.arms = evaluate_arms(snap.champion, snap.candidate, snap.state, snap.config.rollout_salt, facts)
                plan.decision_id = new_id()
                for evaluation in (plan.arms.acting, plan.arms.shadow):
                    if evaluation is not None and evaluation.capacity_claim is not None:
                        wanted.add((evaluation.capacity_claim.product_id, day))
                batch_live_app[c.applicant_ref].append(plan)
                if c.device_ref:
                    batch_live_dev[c.device_ref].append(plan)

            # Pass 2: in-house capacity, in arrival order, under the counter rows' lock.
            ledger = CapacityLedger(await store.lock_counters(session, wanted))
            outcomes: list[RouteOutcome] = []
            for plan in batch:
                if plan.kind != "live":
                    continue
                assert plan.arms is not None and plan.facts is not None
                arms = plan.arms
                shadow_decision = None
                if arms.shadow is not None and arms.shadow_arm is not None:
                    claim = arms.shadow.capacity_claim
                    would_have = claim is not None and ledger.available(claim, day)
                    shadow_decision = finalize(arms.shadow, arms.shadow_arm, would_have)
                claim = arms.acting.capacity_claim
                granted = claim is not None and ledger.take(claim, day)
                decision = finalize(arms.acting, arms.arm, granted)
                plan.outcome = RouteOutcome(
                    plan.command,
                    plan.decision_id,
                    now,
                    decision,
                    shadow_decision,
                    arms.fallback,
                    plan.facts,
                    snap.config_version,
                )
                outcomes.append(plan.outcome)
            await store.save_counters(session, ledger.changes())
            for hook in self.hooks:
                await hook.in_transaction(session, outcomes)

            # Pass 3: responses and rows.
            rows_out: list[dict[str, Any]] = []
            for plan in batch:
                if plan.kind == "live":
                    rows_out.extend(self._live_rows(plan, day))
            for plan in batch:
                if plan.kind in ("repeat", "replay"):
                    if plan.source is not None:
                        assert plan.source.response is not None
                        original = router_pb2.RoutingDecision()
                        original.CopyFrom(plan.source.response)
                    else:
                        assert plan.stored is not None
                        original = router_pb2.RoutingDecision.FromString(plan.stored)
                    if plan.kind == "repeat":
                        original.sticky = True
                        rows_out.append(self._repeat_row(plan, original, now, day))
                    plan.response = original
            await store.insert_decisions(session, rows_out)
        for plan in batch:
            if plan.outcome is not None:
                d = plan.outcome.decision
                self._decisions.labels("live", d.arm.value, d.destination.value).inc()
            elif plan.kind == "repeat":
                self._decisions.labels("repeat", "", "").inc()

    def _live_rows(self, plan: _Plan, day: str) -> list[dict[str, Any]]:
        outcome = plan.outcome
        assert outcome is not None
        c = plan.command
        d = outcome.decision
        plan.response = decision_proto(
            d, outcome.decision_id, outcome.decided_at, outcome.config_version, c.channel, outcome.partner
        )
        inputs = json.dumps(outcome.facts.to_json(), ensure_ascii=False, sort_keys=True)
        common = {
            "applicant_ref": c.applicant_ref,
            "device_ref": c.device_ref,
            "channel": c.channel,
            "scenario": c.scenario,
            "config_version": outcome.config_version,
            "decided_at": outcome.decided_at,
            "local_day": day,
            "inputs_json": inputs,
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
                "response": plan.response.SerializeToString(deterministic=True),
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

    def _repeat_row(self, plan: _Plan, original: router_pb2.RoutingDecision, now: datetime, day: str) -> dict[str, Any]:
        c = plan.command
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


def _reset(plan: _Plan) -> None:
    plan.kind, plan.stored, plan.source, plan.error = "live", None, None, None
    plan.decision_id, plan.facts, plan.arms, plan.outcome, plan.response = "", None, None, None, None
