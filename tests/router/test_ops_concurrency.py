"""Policy ops sent twice (or five times) at once, to one process or to two sharing the database, have one
effect: one history entry, every caller answered with the state in force, no INTERNAL."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import grpc
from sqlalchemy import text

from services.common.clock import ManualClock
from services.common.db import Database
from services.router.app import build
from services.router.service.policies import PolicyController
from skylane.common.v1 import admin_pb2, admin_pb2_grpc
from skylane.router.v1 import router_pb2
from tests.helpers import DbTarget, Harness, key, running_service
from tests.router.helpers import START, config_text, ops, reload, router

TWINS = 5


async def _all_ok(calls: list[Awaitable[Any]]) -> list[Any]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, [(e.code(), e.details()) if isinstance(e, grpc.aio.AioRpcError) else e for e in errors]
    return results


async def _listed(h: Harness) -> router_pb2.ListPolicyVersionsResponse:
    return await ops(h).ListPolicyVersions(router_pb2.ListPolicyVersionsRequest())


async def _two_versions(h: Harness) -> tuple[str, str]:
    """(the file's first champion, the champion after a reload of an edited file)."""
    old = (await _listed(h)).state.champion_version
    await reload(h, config_text(prime=680, stickiness_hours=0))
    new = (await _listed(h)).state.champion_version
    assert new != old
    return old, new


def _activate(h: Harness, version: str) -> Awaitable[router_pb2.PolicyState]:
    return ops(h).ActivatePolicyVersion(router_pb2.ActivatePolicyVersionRequest(idempotency_key=key(), version=version))


def _rollback(h: Harness) -> Awaitable[router_pb2.PolicyState]:
    return ops(h).RollbackPolicy(router_pb2.RollbackPolicyRequest(idempotency_key=key()))


def _shadow(h: Harness, version: str) -> Awaitable[router_pb2.PolicyState]:
    return ops(h).SetCandidate(
        router_pb2.SetCandidateRequest(
            idempotency_key=key(), version=version, mode=router_pb2.CANDIDATE_MODE_SHADOW, share=0.0
        )
    )


async def test_concurrent_policy_changes_have_one_effect(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as h:
        old, new = await _two_versions(h)

        states = await _all_ok([_activate(h, old) for _ in range(TWINS)])
        assert {s.champion_version for s in states} == {old}
        states = await _all_ok([_shadow(h, new) for _ in range(TWINS)])
        assert {(s.champion_version, s.candidate_version) for s in states} == {(old, new)}
        # Five rollbacks at once roll back once (not back and forth): everyone sees `new` in force.
        states = await _all_ok([_rollback(h) for _ in range(TWINS)])
        assert {(s.champion_version, s.candidate_version) for s in states} == {(new, "")}

        listed = await _listed(h)
        assert listed.state.champion_version == new
        assert [e.action for e in listed.history] == ["rollback", "set_candidate", "activate", "file_load", "file_load"]

        # A later rollback would only undo this one, so it changes nothing; going back is an activation.
        assert (await _rollback(h)).champion_version == new
        assert (await _activate(h, old)).champion_version == old
        assert (await _rollback(h)).champion_version == new
        history = [e.action for e in (await _listed(h)).history]
        assert history[:3] == ["rollback", "activate", "rollback"]


async def test_policy_changes_racing_across_two_processes_have_one_effect(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as first:
        old, new = await _two_versions(first)
        async with running_service(build, db_target, first.config_path, clock=ManualClock(START)) as second:
            both = (first, second)
            states = await _all_ok([_activate(h, old) for h in both for _ in range(3)])
            assert {s.champion_version for s in states} == {old}
            states = await _all_ok([_rollback(h) for h in both for _ in range(3)])
            assert {s.champion_version for s in states} == {new}
            await second.app.policies.refresh()
            assert second.app.policies.snapshot.state.champion == new
        actions = Counter(e.action for e in (await _listed(first)).history)
        assert actions == Counter({"file_load": 2, "activate": 1, "rollback": 1})


async def test_concurrent_reloads_of_one_edit_change_the_policy_once(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as h:
        h.write_config(config_text(prime=680, stickiness_hours=0))
        admin = admin_pb2_grpc.AdminStub(h.channel)
        answers = await _all_ok(
            [admin.ReloadConfig(admin_pb2.ReloadConfigRequest(idempotency_key=key())) for _ in range(TWINS)]
        )
        assert sum(1 for a in answers if a.changed) == 1
        assert len({a.version for a in answers}) == 1
        await h.app.policies.settle()
        assert [e.action for e in (await _listed(h)).history] == ["file_load", "file_load"]


async def test_two_processes_starting_on_an_empty_policy_state_record_the_file_load_once(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as h:
        async with h.app.db.transaction() as s:
            await s.execute(text("DELETE FROM policy_history"))
            await s.execute(text("DELETE FROM policy_control"))
        databases = [Database(db_target.url, schema=db_target.schema) for _ in range(2)]
        try:
            starting = [PolicyController(h.app.config, db, h.clock, h.app.write) for db in databases]
            await asyncio.gather(*(c.start() for c in starting))
            assert starting[0].snapshot.state == starting[1].snapshot.state
        finally:
            for db in databases:
                await db.dispose()
        async with h.app.db.read() as s:
            assert (await s.execute(text("SELECT COUNT(*) FROM policy_history"))).scalar_one() == 1


async def test_two_processes_reloading_one_edit_record_it_once(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as first:
        async with running_service(build, db_target, first.config_path, clock=ManualClock(START)) as second:
            first.write_config(config_text(prime=680, stickiness_hours=0))
            answers = await _all_ok(
                [
                    admin_pb2_grpc.AdminStub(h.channel).ReloadConfig(
                        admin_pb2.ReloadConfigRequest(idempotency_key=key())
                    )
                    for h in (first, second)
                    for _ in range(3)
                ]
            )
            assert sum(1 for a in answers if a.changed) == 2  # once in each process
            await asyncio.gather(first.app.policies.settle(), second.app.policies.settle())
            assert first.app.policies.snapshot.state.champion == second.app.policies.snapshot.state.champion
        assert [e.action for e in (await _listed(first)).history] == ["file_load", "file_load"]
