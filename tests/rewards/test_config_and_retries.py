"""Config refusals at load (each with its reason; a refused reload keeps the running version), retried
offers (same idempotency key: same answer, one touch) and pending offers (fallback waves included)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from services.common.config import ConfigError, ConfigStore
from services.rewards import workers
from services.rewards.config import RewardsConfig
from skylane.common.v1 import admin_pb2, admin_pb2_grpc, types_pb2
from skylane.rewards.v1 import rewards_pb2
from tests.rewards.support import claim, config_text, cust, offer, report, rewards_service, stub
from tests.support import DbTarget, error_reason, key

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


async def test_offer_retried_with_the_same_key_answers_the_same_and_counts_one_touch(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        request = rewards_pb2.OfferRequest(
            idempotency_key=key(),
            customer=cust(1),
            scene="mall",
            profile=rewards_pb2.CustomerProfile(age=30, channel="app", monthly_payment_count=3),
        )
        first = await s.Offer(request)
        assert first.outcome == rewards_pb2.OFFERED
        assert [await s.Offer(request) for _ in range(3)] == [first] * 3
        # One touch so far: two more fit under the daily cap of 3, the next does not.
        assert [(await offer(s, 1, "restaurant")).outcome for _ in range(3)] == [
            rewards_pb2.OFFERED,
            rewards_pb2.OFFERED,
            rewards_pb2.NOT_OFFERED,
        ]
        assert sum(r.offers for r in (await report(s)).funnel) == 1  # one mall decision recorded


async def test_pending_offers_list_open_offers_and_fallback_waves(db_target: DbTarget, tmp_path: Path) -> None:
    fallback = "fallback: {arm: m100-10, delay_hours: 48, waves: 1}"
    async with rewards_service(db_target, tmp_path, fallback=fallback, claims=1) as h:
        s = stub(h)

        async def pending(customer: int) -> list[tuple[str, int]]:
            got = await s.ListPendingOffers(rewards_pb2.ListPendingOffersRequest(customer=cust(customer)))
            return [(o.offer_id, o.wave) for o in got.offers]

        mall = await offer(s, 1)
        food = await offer(s, 1, "restaurant")
        assert sorted(await pending(1)) == sorted([(mall.offer_id, 0), (food.offer_id, 0)])
        await claim(s, 1, mall.offer_id)
        assert await pending(1) == [(food.offer_id, 0)]  # claimed offers are gone
        h.clock.advance(hours=48)  # the restaurant offer's 24 h claim window is over; the wave is due
        assert await pending(1) == []
        assert await workers.fallback_pass(h.app) == 1
        waves = (await s.ListPendingOffers(rewards_pb2.ListPendingOffersRequest(customer=cust(1)))).offers
        assert [(o.campaign_id, o.wave, o.reason, o.arm.id) for o in waves] == [
            ("mall", 1, "FALLBACK_WAVE_1", "m100-10")
        ]
        coupon = (await claim(s, 1, waves[0].offer_id)).coupon
        assert coupon.state == rewards_pb2.CLAIMED
        assert await pending(1) == []
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await s.ListPendingOffers(
                rewards_pb2.ListPendingOffersRequest(
                    customer=types_pb2.CustomerRef(ref="1"), page=types_pb2.PageRequest(page_token="x")
                )
            )
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
