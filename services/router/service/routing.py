"""RouteApplicant: deciding where an applicant goes, with group commit.

Requests are queued and a single writer task decides them in batches: one write transaction per
batch does the idempotency and stickiness/velocity lookup (one SELECT), the in-house capacity
counters (read, then claimed in one conditional statement at the end), and one multi-row INSERT of the
decisions. Durable records then cost
one commit (one fsync) per batch instead of per request, and the decisions inside a batch are taken
in arrival order exactly as if they had been serial (the steps are in batch.py).

This use case is its own unit of work rather than a ServiceApp.write unit: one lookup and one capacity
lock for the whole batch need every request of the batch in view at once, and the request's idempotency
lives in its decision row (one row written per request, not two).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.batching import ArrivalWindow, CallsInFlight
from services.common.call_context import start_outside_calls
from services.common.clock import Clock
from services.common.db import Database
from services.common.metrics import ServiceMetrics
from services.router.domain.history import History, classify
from services.router.domain.routing import CapacityLedger
from services.router.service.batch import Batch, Plan
from services.router.service.commands import RouteCommand, RoutingHook
from services.router.service.policies import PolicyController, Snapshot
from services.router.store import decisions as store
from skylane.router.v1 import router_pb2

log = structlog.get_logger("skylane.router.service")

MAX_BATCH = 256
MAX_ATTEMPTS = 3


class CapacityMoved(Exception):
    """A counter read unlocked moved past what the batch's grants allow; the transaction rolls back."""


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
        self._queue: asyncio.Queue[Plan] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._window = ArrivalWindow(calls)
        self._decisions = metrics.counter(
            "skylane_router_decisions_total",
            "Routing decisions by kind, arm and destination",
            ["kind", "arm", "destination"],
        )
        self._batch_sizes = metrics.counter("skylane_router_batches_total", "Write batches committed", [])
        self._capacity_retries = metrics.counter(
            "skylane_router_capacity_retries_total",
            "Batches decided again under the counters' lock: another process filled a counter they read",
            [],
        )

    async def route(self, command: RouteCommand) -> router_pb2.RoutingDecision:
        snapshot = self.policies.snapshot
        for hook in self.hooks:
            await hook.prepare(command, snapshot)
        if self._task is None or self._task.done():
            self._task = start_outside_calls(self._writer())
        future: asyncio.Future[router_pb2.RoutingDecision] = asyncio.get_running_loop().create_future()
        await self._queue.put(Plan(command, future))
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

    async def _decide_batch(self, plans: list[Plan]) -> None:
        lock_first = False
        for attempt in range(1, MAX_ATTEMPTS + 1):
            for plan in plans:
                plan.reset()
            try:
                await self._decide_once(plans, lock_first)
                break
            except IntegrityError:
                # Another process committed one of our keys first; the next attempt's lookup sees it.
                if attempt == MAX_ATTEMPTS:
                    raise
            except CapacityMoved:
                # Another process filled a counter this batch read nearly full: decide again under its lock.
                self._capacity_retries.inc()
                lock_first = True
        self._batch_sizes.inc()
        for plan in plans:
            if plan.future.done():
                continue
            if plan.error is not None:
                plan.future.set_exception(plan.error)
            else:
                assert plan.response is not None
                plan.future.set_result(plan.response)

    async def _decide_once(self, plans: list[Plan], lock_first: bool) -> None:
        """One attempt at the batch, in one write transaction (see batch.py for the steps).

        The in-house counters are read unlocked and claimed as the transaction's last statement, so
        processes sharing a database queue on a counter's row lock for a commit, not for a whole batch;
        if a counter moved too far meanwhile, the batch raises CapacityMoved and is decided again with the
        counters locked before it settles (`lock_first`)."""
        snap = self.policies.snapshot
        now = self.clock.now()
        async with self.db.transaction() as session:
            batch = Batch(plans, snap, now, await self._history(session, plans, snap, now))
            for plan in plans:
                batch.take(plan)
            read = store.lock_counters if lock_first else store.read_counters
            ledger = CapacityLedger(await read(session, batch.wanted))
            outcomes = batch.settle(ledger)
            for hook in self.hooks:
                await hook.in_transaction(session, outcomes)
            await store.insert_decisions(session, batch.answers_and_rows())
            if lock_first:
                await store.save_counters(session, ledger.changes())
            elif not await store.claim_counters(session, ledger.claims()):
                raise CapacityMoved()
        self._count(plans)

    async def _history(self, session: AsyncSession, plans: list[Plan], snap: Snapshot, now: datetime) -> History:
        """The batch's keys already used, and its applicants' and devices' decisions as far back as the
        stickiness window and every velocity rule of both arms look; the applicants are locked first."""
        commands = [p.command for p in plans]
        since = now - timedelta(hours=snap.lookback_hours)
        await store.lock_applicants(session, self.db.dialect, (c.applicant_ref for c in commands))
        rows = await store.lookup(
            session,
            [c.key for c in commands],
            sorted({c.applicant_ref for c in commands}),
            sorted({c.device_ref for c in commands if c.device_ref}),
            since,
        )
        return classify(rows)

    def _count(self, plans: list[Plan]) -> None:
        for plan in plans:
            if plan.outcome is not None:
                d = plan.outcome.decision
                self._decisions.labels("live", d.arm.value, d.destination.value).inc()
            elif plan.kind == "repeat":
                self._decisions.labels("repeat", "", "").inc()
