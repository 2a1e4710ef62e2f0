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

REPO = Path(__file__).resolve().parents[3]
GOOD = config_text()
ARM = "{id: m100-10, threshold_fen: 10000, discount_fen: 1000, validity_days: 7}"
TRIGGERS = """
triggers:
  - {id: mall-visit, campaign: mall, event: outside.app_opened, window: {start: "09:00", end: "20:00"}}
  - {id: food-visit, campaign: food, event: outside.app_opened, arm: m50-5}
"""
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
        "campaigns.1.scenes: unknown scene 'casino' (scenes are: mall, supermarket, restaurant, travel)",
    ),
    "unknown fallback arm": (
        config_text(fallback="fallback: {arm: nope, delay_hours: 24}"),
        "campaigns.0.fallback.arm: unknown arm 'nope' (arms are: m100-10)",
    ),
    "duplicate scene": (
        GOOD.replace(
            "scenes: [mall, supermarket, restaurant, travel]", "scenes: [mall, supermarket, restaurant, mall]"
        ),
        "scenes.3: duplicate scene 'mall' (also item 0)",
    ),
    "duplicate campaign": (
        GOOD.replace("- id: food", "- id: mall"),
        "campaigns.1.id: duplicate campaign id 'mall' (also item 0)",
    ),
    "duplicate arm": (
        GOOD.replace(ARM, f"{ARM}\n      - {ARM.replace('discount_fen: 1000', 'discount_fen: 2000')}"),
        "campaigns.0.arms.1.id: duplicate arm id 'm100-10' (also item 0)",
    ),
    "duplicate segment": (
        GOOD.replace("segments:\n", "segments:\n  - {id: dormant}\n"),
        "segments.1.id: duplicate segment id 'dormant' (also item 0)",
    ),
    "quiet hours of no time": (
        config_text(quiet='quiet_hours: {start: "21:00", end: "21:00"}'),
        "contact.quiet_hours: start and end are both '21:00'",
    ),
    "trigger's unknown campaign": (
        GOOD + TRIGGERS.replace("campaign: food", "campaign: fod"),
        "triggers.1.campaign: unknown campaign 'fod' (campaigns are: mall, food)",
    ),
    "trigger's unknown arm": (
        GOOD + TRIGGERS.replace("arm: m50-5", "arm: m50-6"),
        "triggers.1.arm: unknown arm 'm50-6' (arms are: m50-5)",
    ),
    "duplicate trigger": (
        GOOD + TRIGGERS.replace("id: food-visit", "id: mall-visit"),
        "triggers.1.id: duplicate trigger id 'mall-visit' (also item 0)",
    ),
    "trigger window of no time": (
        GOOD + TRIGGERS.replace('end: "20:00"', 'end: "09:00"'),
        "triggers.0.window: start and end are both '09:00'",
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


def test_the_shipped_config_and_the_test_config_with_triggers_load(tmp_path: Path) -> None:
    shipped = ConfigStore(REPO / "config" / "rewards.yaml", RewardsConfig).model
    assert len(shipped.campaigns) == 4 and len(set(shipped.scenes)) == len(shipped.scenes) == 4
    path = tmp_path / "rewards.yaml"
    path.write_text(GOOD + TRIGGERS, encoding="utf-8")
    assert [t.id for t in ConfigStore(path, RewardsConfig).model.triggers] == ["mall-visit", "food-visit"]


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
