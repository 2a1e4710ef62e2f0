"""Background passes of the rewards service. Each pass calls one use case of services/rewards/service/ at
the clock's now; a loop runs it periodically, and tests call a pass directly after moving the ManualClock.
The consumers of growth's and the router's event streams (service/peer_events.py) run beside them, each off
until its peer's address is configured."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from services.common.app import Worker, periodic
from services.common.batching import WriteBatcher
from services.common.clock import Clock
from services.common.config import ConfigStore
from services.common.consumer import Consumer
from services.common.db import Database
from services.common.replica_share import PUBLISH_SECONDS, ReplicaLoad
from services.rewards.config import RewardsConfig
from services.rewards.domain.journey import listens_to
from services.rewards.runtime import ConfigView
from services.rewards.service.expiry import ExpireCoupons
from services.rewards.service.fallback import SendFallbackWaves
from services.rewards.service.journeys import Journeys
from services.rewards.service.peer_events import TYPES, keep_inputs
from services.rewards.service.policy_state import PolicyState
from services.rewards.service.telemetry import RewardsTelemetry

log = structlog.get_logger("skylane.rewards.workers")


class Passes:
    def __init__(
        self,
        clock: Clock,
        view: Callable[[], ConfigView],
        expire_coupons: ExpireCoupons,
        send_fallback_waves: SendFallbackWaves,
        policy_state: PolicyState,
        telemetry: RewardsTelemetry,
        journeys: Journeys,
        replica_load: ReplicaLoad,
    ) -> None:
        self.clock, self.view = clock, view
        self.replica_load = replica_load
        self.expire_coupons = expire_coupons
        self.send_fallback_waves = send_fallback_waves
        self.journeys_ = journeys
        self.policy_state = policy_state
        self.telemetry = telemetry

    async def expire(self) -> int:
        """Expires claimed coupons past their validity; returns how many."""
        return await self.expire_coupons(self.clock.now())

    async def fallback(self) -> int:
        """Sends the fallback waves that are due; returns how many went out."""
        return await self.send_fallback_waves(self.view(), self.clock.now())

    async def journeys(self) -> int:
        """Makes the triggered touches that are due; returns how many customers were touched."""
        return await self.journeys_.send_due(self.view(), self.clock.now())

    async def journey_loop(self) -> None:
        """The journeys pass every `journey_pass_seconds`, for touches due later (a touch due at once is made
        with its entry) and deferred ones."""
        while True:
            cfg = self.view().cfg
            seconds = cfg.journey_pass_seconds
            if not seconds or not cfg.triggers:
                await asyncio.sleep(1.0)  # off, or nothing to do; a reload may change that
                continue
            await asyncio.sleep(seconds)
            try:
                await self.journeys()
            except Exception:
                log.exception("worker_pass_failed", job="journeys")

    async def flush_policy(self) -> None:
        """Persists λ of every campaign so a restart resumes pacing where it was."""
        await self.policy_state.flush(self.clock.now())

    async def publish_load(self) -> float:
        """Publishes this replica's offer rate and updates its share of the traffic (what its pacers plan
        with); returns the share."""
        return await self.replica_load.publish()

    async def take_in_learning(self) -> bool:
        """Every replica's outcomes into this process's posteriors when others are serving."""
        return await self.policy_state.take_in(self.view().cfg)

    async def refresh_gauges(self) -> None:
        """Reads every campaign's budget counters and λ into the metrics (and notes budgets used up)."""
        await self.telemetry.refresh(self.view(), self.clock.now())

    def loops(
        self,
        *,
        expiry_interval: float,
        fallback_interval: float,
        flush_interval: float,
        gauge_interval: float,
        take_in_interval: float,
    ) -> list[Worker]:
        return [
            periodic("replica_load", PUBLISH_SECONDS, self.publish_load),
            periodic("take_in_learning", take_in_interval, self.take_in_learning),
            periodic("expire", expiry_interval, self.expire),
            periodic("fallback", fallback_interval, self.fallback),
            self.journey_loop,
            periodic("flush_policy", flush_interval, self.flush_policy),
            periodic("gauges", gauge_interval, self.refresh_gauges),
        ]


def consumers(
    config: ConfigStore[RewardsConfig], db: Database, writes: WriteBatcher, clock: Clock, journeys: Journeys
) -> list[Consumer]:
    """One consumer per peer: growth (levels) and the router (risk verdicts), each also feeding the
    journeys, and rewards' own stream (outside events and its own events) for the triggers that use it."""

    def wanted(peer: str) -> set[str]:
        return set(TYPES.get(peer, ())) | listens_to(config.model.triggers).get(peer, set())

    return [
        Consumer(
            peer=peer,
            db=db,
            writes=writes,
            clock=clock,
            settings=lambda peer=peer: config.model.events.peers.get(peer),  # type: ignore[misc]
            types=lambda peer=peer: wanted(peer),  # type: ignore[misc]
            handle=journeys.handler(peer, keep_inputs(peer, db.dialect) if peer in TYPES else None),
        )
        for peer in ("growth", "router", "rewards")
    ]
