"""The policy state in force, kept in memory for the hot path and persisted for ops and other processes.

`snapshot` is an immutable view (config, compiled champion and candidate, control state) swapped
atomically on a config reload or an ops change, so one request never sees half of a change. The ops
changes themselves (activate, roll back, set a candidate) are use cases in policy_changes.py; they run
through `change`, which gives each one unit of work and installs its outcome.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import structlog
from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.clock import Clock
from services.common.config import ConfigError, ConfigStore, LoadedConfig
from services.common.db import Database
from services.common.errors import FailedPrecondition, NotFound
from services.router.config import Policy, RouterConfig, policy_condition_errors
from services.router.domain import control as ctl
from services.router.domain.model import Mode
from services.router.domain.policy import CompiledPolicy
from services.router.domain.tags import TagSpec, catalogue
from services.router.service.unit_of_work import Write
from services.router.store import control as store

log = structlog.get_logger("skylane.router.policies")

R = TypeVar("R", bound=Message)
# An ops change: (session, state now, history newest first) -> (new state, history action).
Compute = Callable[[Any, ctl.ControlState, list[ctl.HistoryEvent]], Awaitable[tuple[ctl.ControlState, str]]]


@dataclass(frozen=True)
class Snapshot:
    config: RouterConfig
    config_version: str
    state: ctl.ControlState
    champion: CompiledPolicy
    candidate: CompiledPolicy | None
    zone: ZoneInfo
    tags: dict[str, TagSpec]
    channels: dict[str, frozenset[str]]

    @property
    def lookback_hours(self) -> int:
        """How far back stickiness and every velocity rule of both arms look."""
        arms = [self.champion, *([self.candidate] if self.candidate else [])]
        return max([self.config.stickiness_hours, *(p.history_hours for p in arms)])


def file_policies(config: RouterConfig) -> tuple[CompiledPolicy, ctl.FileCandidate | None, CompiledPolicy | None]:
    champion = CompiledPolicy(config.policy)
    if config.candidate is None:
        return champion, None, None
    candidate = CompiledPolicy(config.candidate.policy)
    return (
        champion,
        ctl.FileCandidate(candidate.version, Mode(config.candidate.mode), config.candidate.share),
        candidate,
    )


class PolicyController:
    """Holds the snapshot in force and keeps it in step with the config file, the database and ops changes."""

    def __init__(self, config: ConfigStore[RouterConfig], db: Database, clock: Clock, write: Write) -> None:
        self.config, self.db, self.clock, self.write = config, db, clock, write
        self.compiled: dict[str, CompiledPolicy] = {}
        self._snapshot: Snapshot | None = None
        self._lock = asyncio.Lock()
        self._pending: set[asyncio.Task[None]] = set()
        config.subscribe(self._on_reload)

    @property
    def snapshot(self) -> Snapshot:
        if self._snapshot is None:
            raise RuntimeError("policy controller not started")
        return self._snapshot

    # -- start, reload, refresh ----------------------------------------------------------------

    async def start(self) -> None:
        await self._sync_file(self.config.current)

    def _on_reload(self, loaded: LoadedConfig[RouterConfig]) -> None:
        # Decisions must change as soon as the reload returns: swap memory now, persist right after.
        champion, file_candidate, candidate = file_policies(loaded.model)
        for policy in (champion, candidate):
            if policy is not None:
                self.compiled.setdefault(policy.version, policy)
        state, _ = ctl.apply_file(self.snapshot.state, champion.version, file_candidate)
        self._install(loaded, state)
        task = asyncio.get_running_loop().create_task(self._sync_file(loaded))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def settle(self) -> None:
        """Waits for reload bookkeeping still being written (ops reads call this first)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _sync_file(self, loaded: LoadedConfig[RouterConfig]) -> None:
        champion, file_candidate, candidate = file_policies(loaded.model)
        async with self._lock:
            now = self.clock.now()
            async with self.db.transaction() as session:
                found = {champion.version: champion.policy.model_dump(mode="json")}
                if candidate is not None:
                    found[candidate.version] = candidate.policy.model_dump(mode="json")
                await store.register_versions(session, self.db.dialect, found, "file", now)
                current = await store.load_control(session, self.db.dialect, for_update=True)
                state, events = ctl.apply_file(current, champion.version, file_candidate)
                if current is None and not await store.create_control(session, self.db.dialect, state, events, now):
                    # Another process created the state first (both started on an empty database):
                    # merge the file into theirs, so the first load is recorded once.
                    current = await store.load_control(session, self.db.dialect, for_update=True)
                    state, events = ctl.apply_file(current, champion.version, file_candidate)
                if events and current is not None:
                    await store.save_control(session, self.db.dialect, state, events, now)
                await self._compile_missing(session, state)
            self._install(loaded, state)
            if events:
                log.info("policy_state_changed", action="file_load", champion=state.champion, candidate=state.candidate)

    async def refresh(self) -> None:
        """Picks up changes other processes made (ops RPCs served elsewhere)."""
        async with self._lock, self.db.read() as session:
            revision = await store.load_revision(session)
            if revision == self.snapshot.state.revision:
                return
            state = await store.load_control(session, self.db.dialect)
            if state is None:
                return
            await self._compile_missing(session, state)
        self._install(self.config.current, state)

    async def _compile_missing(self, session: Any, state: ctl.ControlState) -> None:
        for version in (state.champion, state.candidate):
            if version is not None and version not in self.compiled:
                row = await store.load_version(session, version)
                if row is None:
                    raise RuntimeError(f"policy version {version} is in force but unknown")
                self.compiled[version] = CompiledPolicy(Policy.model_validate(json.loads(row.policy_json)), version)

    def _install(self, loaded: LoadedConfig[RouterConfig], state: ctl.ControlState) -> None:
        config = loaded.model
        self._snapshot = Snapshot(
            config=config,
            config_version=loaded.version,
            state=state,
            champion=self.compiled[state.champion],
            candidate=self.compiled[state.candidate] if state.candidate else None,
            zone=ZoneInfo(config.timezone),
            tags=catalogue(config.extra_tags),
            channels={c.id: frozenset(c.scenarios) for c in config.channels},
        )

    # -- ops changes -----------------------------------------------------------------------------

    async def change(
        self,
        method: str,
        request: R,
        response_type: type[R],
        compute: Compute,
        to_proto: Callable[[ctl.ControlState], R],
    ) -> R:
        """Runs an ops change as one idempotent unit of work, then installs the state in force.

        Changes are serialised (this process's lock, the control row's lock across processes). A change
        whose outcome is already in force is answered with the state as it is, with no history entry
        (see _decide): the same request sent twice at once (two operators, a double click, a retry
        under a new key) has one effect.
        """
        await self.settle()
        async with self._lock:
            now = self.clock.now()

            async def work(session: AsyncSession) -> R:
                current = await store.load_control(session, self.db.dialect, for_update=True)
                assert current is not None  # written at start
                history = await store.load_history(session)
                change = await _decide(session, compute, current, history)
                if change is None:
                    log.info("policy_change_already_in_force", method=method, champion=current.champion)
                    return to_proto(current)
                state, action = change
                await store.save_control(session, self.db.dialect, state, [ctl.event_of(action, state)], now)
                await self._compile_missing(session, state)
                log.info("policy_state_changed", action=action, champion=state.champion, candidate=state.candidate)
                return to_proto(state)

            response = await self.write(method, request, response_type, work)
            # Installed from what is stored, also when the answer was a replay: that state is the one in force.
            async with self.db.read() as session:
                state_now = await store.load_control(session, self.db.dialect)
                assert state_now is not None
                await self._compile_missing(session, state_now)
            self._install(self.config.current, state_now)
        return response

    async def register_submitted(
        self, session: AsyncSession, compiled: CompiledPolicy, document: dict[str, Any]
    ) -> None:
        """Records a policy sent in a request (config_yaml) as a known version, so every process can compile it."""
        await store.register_versions(session, self.db.dialect, {compiled.version: document}, "rpc", self.clock.now())
        self.compiled.setdefault(compiled.version, compiled)

    def resolve_yaml(self, text: str) -> tuple[CompiledPolicy, dict[str, Any]]:
        """A full router.yaml document (validated like a reload) → its `policy` block, compiled."""
        try:
            loaded = self.config.parse(text, source="<request>")
        except ConfigError as exc:
            raise FailedPrecondition("CONFIG_INVALID", "; ".join(exc.errors), subject="config_yaml") from None
        compiled = CompiledPolicy(loaded.model.policy)
        return compiled, loaded.model.policy.model_dump(mode="json")

    async def resolve_version(self, session: Any, version: str) -> CompiledPolicy:
        if version in self.compiled:
            return self.compiled[version]
        row = await store.load_version(session, version)
        if row is None:
            raise NotFound("policy version", version)
        compiled = CompiledPolicy(Policy.model_validate(json.loads(row.policy_json)), version)
        errors = policy_condition_errors(compiled.policy, self.snapshot.tags, "policy")
        if errors:
            raise FailedPrecondition("POLICY_INCOMPATIBLE", "; ".join(errors), subject=version)
        self.compiled[version] = compiled
        return compiled


async def _decide(
    session: Any, compute: Compute, current: ctl.ControlState, history: list[ctl.HistoryEvent]
) -> tuple[ctl.ControlState, str] | None:
    """The change to make, or None when what the request asks for is already in force (see
    control.changes_nothing)."""
    state, action = await compute(session, current, history)
    return None if ctl.changes_nothing(current, state, action, history) else (state, action)
