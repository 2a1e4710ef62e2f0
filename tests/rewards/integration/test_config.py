"""Config refusals at load, each with its reason, and a refused reload that keeps the running version."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from services.common.config import ConfigError, ConfigStore
from services.rewards.config import RewardsConfig
from skylane.common.v1 import admin_pb2, admin_pb2_grpc
from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, error_reason, key
from tests.rewards.helpers import config_text, offer, rewards_service, stub

GOOD = config_text()
ARM = "{id: m100-10, threshold_fen: 10000, discount_fen: 1000, validity_days: 7}"
BAD = {
    "discount at threshold": (
        GOOD.replace(ARM, "{id: m100-10, threshold_fen: 10000, discount_fen: 10000, validity_days: 7}"),
        "discount_fen (10000) must be below threshold_fen (10000)",
    ),
    "daily above total": (
        config_text(total=5_000, daily=6_000),
        "daily_fen (6000) exceeds total_fen (5000)",
    ),
    "unknown scene": (
        GOOD.replace("scenes: [restaurant]", "scenes: [casino]"),
        "unknown scenes ['casino']",
    ),
    "unknown fallback arm": (
        config_text(fallback="fallback: {arm: nope, delay_hours: 24}"),
        "fallback.arm 'nope' is not one of the campaign's arms",
    ),
    "end before start": (
        GOOD.replace("end: 2026-03-01T00:00:00+08:00", "end: 2025-03-01T00:00:00+08:00", 1),
        "end must be after start",
    ),
    "unknown key": (GOOD.replace("per_week: 5", "per_week: 5\n  per_month: 9"), "unknown key"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_config_store_refuses_bad_campaigns_with_a_reason(case: str, tmp_path: Path) -> None:
    text, reason = BAD[case]
    path = tmp_path / "rewards.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        ConfigStore(path, RewardsConfig)
    assert any(reason in e for e in refused.value.errors), refused.value.errors


async def test_validate_config_and_refused_reload_keep_the_running_version(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        admin = admin_pb2_grpc.AdminStub(h.channel)
        running = (await admin.GetConfig(admin_pb2.GetConfigRequest())).version
        for text, reason in BAD.values():
            checked = await admin.ValidateConfig(admin_pb2.ValidateConfigRequest(yaml=text))
            assert not checked.valid
            assert any(reason in e for e in checked.errors), checked.errors
        assert (await admin.ValidateConfig(admin_pb2.ValidateConfigRequest(yaml=GOOD))).valid

        h.write_config(BAD["daily above total"][0])
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await admin.ReloadConfig(admin_pb2.ReloadConfigRequest(idempotency_key=key()))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_reason(refused.value) == "CONFIG_INVALID"
        assert (await admin.GetConfig(admin_pb2.GetConfigRequest())).version == running
        # The old budget still governs: the service keeps offering under the running version.
        answer = await offer(stub(h), 1)
        assert (answer.outcome, answer.config_version) == (rewards_pb2.OFFERED, running)
