"""Contact caps across campaigns and at local day/week boundaries, quiet hours, opt-out, holdout,
fallback waves within the caps, and the uplift report — on real servers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from services.rewards import workers
from services.rewards.domain import holdout
from skylane.common.v1 import admin_pb2, admin_pb2_grpc, types_pb2
from skylane.rewards.v1 import rewards_pb2
from tests.rewards.support import claim, config_text, cust, offer, report, rewards_service, stub
from tests.support import DbTarget, key

OFFERED, NOT_OFFERED = rewards_pb2.OFFERED, rewards_pb2.NOT_OFFERED


async def test_caps_hold_across_campaigns_and_reset_at_local_boundaries(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        got = [await offer(s, 1, scene) for scene in ("mall", "restaurant", "mall", "restaurant")]
        assert [r.outcome for r in got] == [OFFERED, OFFERED, OFFERED, NOT_OFFERED]
        assert got[3].reason == "CONTACT_CAP_DAY"
        # 23:59 local is still Monday.
        h.clock.set(datetime(2026, 1, 5, 15, 59, tzinfo=UTC))
        assert (await offer(s, 1, "restaurant")).reason == "CONTACT_CAP_DAY"
        # 00:00 Tuesday in Shanghai (16:00 UTC Monday): a new day, same week.
        h.clock.set(datetime(2026, 1, 5, 16, 0, tzinfo=UTC))
        tuesday = [await offer(s, 1, "restaurant") for _ in range(3)]
        assert [r.outcome for r in tuesday] == [OFFERED, OFFERED, NOT_OFFERED]
        assert tuesday[2].reason == "CONTACT_CAP_WEEK"
        # Sunday 23:59 local is still the same ISO week; Monday 00:00 local starts a new one.
        h.clock.set(datetime(2026, 1, 11, 15, 59, tzinfo=UTC))
        assert (await offer(s, 1, "restaurant")).reason == "CONTACT_CAP_WEEK"
        h.clock.set(datetime(2026, 1, 11, 16, 0, tzinfo=UTC))
        assert (await offer(s, 1, "restaurant")).outcome == OFFERED


async def test_concurrent_offers_never_exceed_the_daily_cap(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        results = await asyncio.gather(*(offer(s, 7, ("mall", "restaurant")[i % 2]) for i in range(12)))
        assert sum(r.outcome == OFFERED for r in results) == 3
        assert {r.reason for r in results if r.outcome != OFFERED} == {"CONTACT_CAP_DAY"}


async def test_quiet_hours_and_opt_out(db_target: DbTarget, tmp_path: Path) -> None:
    quiet = 'quiet_hours: {start: "22:00", end: "08:00"}'
    async with rewards_service(db_target, tmp_path, quiet=quiet) as h:
        s = stub(h)
        h.clock.set(datetime(2026, 1, 5, 14, 30, tzinfo=UTC))  # 22:30 local
        assert (await offer(s, 1)).reason == "QUIET_HOURS"
        h.clock.set(datetime(2026, 1, 6, 0, 0, tzinfo=UTC))  # 08:00 local
        assert (await offer(s, 1)).outcome == OFFERED
        await s.SetOptOut(rewards_pb2.SetOptOutRequest(idempotency_key=key(), customer=cust(1), opted_out=True))
        assert (await offer(s, 1)).reason == "OPTED_OUT"


async def test_holdout_is_never_treated_and_its_assignment_is_stable(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path, holdout=0.5) as h:
        s = stub(h)
        first = {n: await offer(s, n) for n in range(40)}
        held = {n for n, r in first.items() if r.outcome == rewards_pb2.HOLDOUT}
        assert held == {n for n in range(40) if holdout.assign("mall", cust(n).ref, 0.5) == holdout.HOLDOUT}
        assert 5 < len(held) < 35
        assert all(not r.HasField("arm") for n, r in first.items() if n in held)
        # Change the share to 0: the recorded assignment wins, holdout customers stay untreated.
        h.write_config(config_text(holdout=0.0))
        admin = admin_pb2_grpc.AdminStub(h.channel)
        assert (await admin.ReloadConfig(admin_pb2.ReloadConfigRequest(idempotency_key=key()))).changed
        for n in range(40):
            again = await offer(s, n, "mall")
            assert (again.outcome == rewards_pb2.HOLDOUT) == (n in held)
        rep = await report(s)
        assert rep.uplift.holdout.customers == len(held)
        assert rep.uplift.treated.customers == 40 - len(held)
        assert all(r.arm_id for r in rep.funnel)


async def test_fallback_waves_go_to_non_redeemers_within_caps(db_target: DbTarget, tmp_path: Path) -> None:
    fallback = "fallback: {arm: m100-10, delay_hours: 72, waves: 2, wave_interval_hours: 48}"
    async with rewards_service(db_target, tmp_path, fallback=fallback) as h:
        s = stub(h)
        await claim(s, 1, (await offer(s, 1)).offer_id)  # claims, never redeems
        await claim(s, 2, (await offer(s, 2)).offer_id)
        assert await workers.fallback_pass(h.app) == 0  # not due yet
        h.clock.advance(hours=72)
        # Customer 2 uses up today's touches elsewhere: their wave waits for a later pass.
        for _ in range(3):
            assert (await offer(s, 2, "restaurant")).outcome == OFFERED
        assert await workers.fallback_pass(h.app) == 1
        assert await workers.fallback_pass(h.app) == 0  # wave 1 already sent to customer 1
        h.clock.advance(hours=24)
        assert await workers.fallback_pass(h.app) == 1  # customer 2's wave 1, now within the cap
        h.clock.advance(hours=24)
        assert await workers.fallback_pass(h.app) == 1  # customer 1's wave 2 (48h after wave 1's due time)
        h.clock.advance(hours=100)
        assert await workers.fallback_pass(h.app) == 1  # customer 2's wave 2; then no waves are left
        assert await workers.fallback_pass(h.app) == 0
        rep = await report(s)
        assert sum(r.offers for r in rep.funnel) == 2 + 4


async def test_uplift_report_against_the_holdout(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path, holdout=0.5) as h:
        s = stub(h)
        groups = {n: (await offer(s, n)).outcome for n in range(60)}
        treated = [n for n, o in groups.items() if o != rewards_pb2.HOLDOUT]
        held = [n for n, o in groups.items() if o == rewards_pb2.HOLDOUT]
        paying = treated[: len(treated) * 2 // 3] + held[: len(held) // 3]
        for n in paying:
            await s.RecordPayment(
                rewards_pb2.RecordPaymentRequest(
                    idempotency_key=key(),
                    customer=cust(n),
                    scene="mall",
                    order_id=f"pay-{n}",
                    amount=types_pb2.Money(fen=10_000 + 100 * n),
                )
            )
        u = (await report(s)).uplift
        assert u.treated.payment_active == len(treated) * 2 // 3
        assert u.holdout.payment_active == len(held) // 3
        expected = (u.treated.payment_active / len(treated)) / (u.holdout.payment_active / len(held))
        assert abs(u.active_rate_ratio.estimate - expected) < 1e-9
        assert u.active_rate_ratio.low < expected < u.active_rate_ratio.high
        assert u.value_ratio.defined and u.value_ratio.low < u.value_ratio.estimate < u.value_ratio.high
