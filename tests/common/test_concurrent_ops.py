"""Admin.ReloadConfig sent five times at once, under different keys or one key, reloads once: one answer
says changed, every answer names the new version, none fails. (The router's reload, which also writes
the policy history, is covered in tests/router/test_ops_concurrency.py.)"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.growth.app import build as build_growth
from services.rewards.app import build as build_rewards
from skylane.common.v1 import admin_pb2, admin_pb2_grpc
from tests.growth.helpers import config as growth_config
from tests.helpers import DbTarget, key, running_service
from tests.rewards.helpers import config_text as rewards_config

TWINS = 5
SERVICES: dict[str, tuple[Callable[..., Any], str, str]] = {
    "growth": (build_growth, growth_config(), growth_config("refuse")),
    "rewards": (build_rewards, rewards_config(), rewards_config(claims=2)),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_concurrent_reloads_of_one_edit_reload_once(db_target: DbTarget, tmp_path: Path, service: str) -> None:
    build, before, after = SERVICES[service]
    path = tmp_path / f"{service}.yaml"
    path.write_text(before, encoding="utf-8")
    async with running_service(build, db_target, path) as h:
        admin = admin_pb2_grpc.AdminStub(h.channel)
        first = h.app.config.current.version
        h.write_config(after)
        answers = await asyncio.gather(
            *(admin.ReloadConfig(admin_pb2.ReloadConfigRequest(idempotency_key=key())) for _ in range(TWINS))
        )
        assert sum(1 for a in answers if a.changed) == 1
        assert {a.version for a in answers} == {h.app.config.current.version} != {first}
        assert {a.previous_version for a in answers if a.changed} == {first}

        h.write_config(before)
        same = admin_pb2.ReloadConfigRequest(idempotency_key=key())
        answers = await asyncio.gather(*(admin.ReloadConfig(same) for _ in range(TWINS)))
        assert len({a.SerializeToString(deterministic=True) for a in answers}) == 1
        assert answers[0].changed and answers[0].version == first == h.app.config.current.version
