"""The contact policy on real servers: caps across campaigns at the local day's boundaries and the rolling
7 local days' (in Shanghai, without daylight saving, and in Berlin across a change), every refusal counted
in the report, concurrent offers never exceeding a cap, quiet hours and opt-out."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from services.common.clock import ManualClock
from services.rewards.app import build
from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, key, running_service
from tests.rewards.helpers import cust, offer, report, rewards_service, stub

OFFERED, NOT_OFFERED = rewards_pb2.OFFERED, rewards_pb2.NOT_OFFERED


async def test_caps_hold_across_campaigns_and_reset_at_local_boundaries(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        h.clock.set(datetime(2026, 1, 10, 1, 0, tzinfo=UTC))  # Saturday 09:00 in Shanghai
        got = [await offer(s, 1, scene) for scene in ("mall", "restaurant", "mall", "restaurant")]
        assert [r.outcome for r in got] == [OFFERED, OFFERED, OFFERED, NOT_OFFERED]
        assert got[3].reason == "CONTACT_CAP_DAY"
        # 23:59 local is still Saturday.
        h.clock.set(datetime(2026, 1, 10, 15, 59, tzinfo=UTC))
        assert (await offer(s, 1, "restaurant")).reason == "CONTACT_CAP_DAY"
        # 00:00 Sunday in Shanghai (16:00 UTC Saturday): a new day, the same 7 days.
        h.clock.set(datetime(2026, 1, 10, 16, 0, tzinfo=UTC))
        sunday = [await offer(s, 1, "restaurant") for _ in range(3)]
        assert [r.outcome for r in sunday] == [OFFERED, OFFERED, NOT_OFFERED]
        assert sunday[2].reason == "CONTACT_CAP_WEEK"
        # Monday starts a new calendar week, but the 7 days ending Monday still hold Saturday's and Sunday's.
        h.clock.set(datetime(2026, 1, 11, 16, 0, tzinfo=UTC))
        assert (await offer(s, 1, "restaurant")).reason == "CONTACT_CAP_WEEK"
        # Friday 23:59 local is the last day whose 7 days include Saturday; Saturday 00:00 drops it.
        h.clock.set(datetime(2026, 1, 16, 15, 59, tzinfo=UTC))
        assert (await offer(s, 1, "restaurant")).reason == "CONTACT_CAP_WEEK"
        h.clock.set(datetime(2026, 1, 16, 16, 0, tzinfo=UTC))
        saturday = [await offer(s, 1, "restaurant") for _ in range(4)]
        assert [r.outcome for r in saturday] == [OFFERED, OFFERED, OFFERED, NOT_OFFERED]
        assert saturday[3].reason == "CONTACT_CAP_DAY"  # 2 (Sunday) + 3 (today) = 5, the day's cap first
        rep = await report(s, "food")
        fates = {(f.source, f.fate, f.reason): f.count for f in rep.contact_fates}
        assert fates == {
            ("REQUESTED", "TOUCHED", ""): 6,
            ("REQUESTED", "REFUSED", "CONTACT_CAP_DAY"): 3,
            ("REQUESTED", "REFUSED", "CONTACT_CAP_WEEK"): 3,
        }


BERLIN = """
timezone: Europe/Berlin
scenes: [mall]
contact: {per_day: 3, per_week: 5}
policy: {exploration: 0.0, prior_alpha: 50, prior_beta: 50, baseline_prior_alpha: 1, baseline_prior_beta: 99}
campaigns:
  - id: mall
    scenes: [mall]
    start: 2026-03-01T00:00:00+01:00
    end: 2026-05-01T00:00:00+02:00
    budget: {total_fen: 1000000, daily_fen: 1000000}
    arms: [{id: m100-10, threshold_fen: 10000, discount_fen: 1000}]
    holdout_share: 0.0
    conversion_value_fen: 10000
"""


async def test_caps_follow_local_days_across_a_daylight_saving_change(db_target: DbTarget, tmp_path: Path) -> None:
    path = tmp_path / "rewards.yaml"
    path.write_text(BERLIN, encoding="utf-8")
    # Sunday 2026-03-29, Berlin's clocks go forward at 02:00: the day ends at 22:00 UTC, not 23:00.
    async with running_service(
        build, db_target, path, clock=ManualClock(datetime(2026, 3, 29, 21, 0, tzinfo=UTC))
    ) as h:
        s = stub(h)
        h.clock.set(datetime(2026, 3, 29, 21, 59, tzinfo=UTC))  # 23:59 CEST
        sunday = [await offer(s, 1) for _ in range(4)]
        assert [r.outcome for r in sunday] == [OFFERED, OFFERED, OFFERED, NOT_OFFERED]
        assert sunday[3].reason == "CONTACT_CAP_DAY"
        h.clock.set(datetime(2026, 3, 29, 22, 0, tzinfo=UTC))  # Monday 00:00 CEST (23:00 in CET terms)
        monday = [await offer(s, 1) for _ in range(3)]
        assert [r.outcome for r in monday] == [OFFERED, OFFERED, NOT_OFFERED]
        assert monday[2].reason == "CONTACT_CAP_WEEK"
        # The 7 days ending Saturday 2026-04-04 hold Sunday's 3; Sunday 00:00 local drops them, less than
        # 168 hours after they were made.
        h.clock.set(datetime(2026, 4, 4, 21, 59, tzinfo=UTC))
        assert (await offer(s, 1)).reason == "CONTACT_CAP_WEEK"
        h.clock.set(datetime(2026, 4, 4, 22, 0, tzinfo=UTC))
        assert (await offer(s, 1)).outcome == OFFERED


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


async def test_the_day_is_the_customers_own_when_their_events_give_a_zone(db_target: DbTarget, tmp_path: Path) -> None:
    async with rewards_service(db_target, tmp_path) as h:  # config zone Asia/Shanghai
        s = stub(h)
        ingest = events_pb2_grpc.EventIngestServiceStub(h.channel)
        sign_in = events_pb2.OutsideEvent(
            idempotency_key=types_pb2.IdempotencyKey(value="sign-in-1"),
            source="app",
            type="sign_in",
            customer=cust(1),
            time_zone="Europe/Berlin",
        )
        answer = await ingest.IngestEvents(events_pb2.IngestEventsRequest(idempotency_key=key(), events=[sign_in]))
        assert answer.results[0].status == events_pb2.INGEST_STATUS_ACCEPTED
        # Monday 23:30 in Berlin is already Tuesday 06:30 in Shanghai.
        h.clock.set(datetime(2026, 1, 5, 22, 30, tzinfo=UTC))
        late = [await offer(s, who, "restaurant") for who in (1, 1, 1, 1, 2, 2, 2)]
        assert [r.outcome for r in late[:4]] == [OFFERED, OFFERED, OFFERED, NOT_OFFERED]
        assert late[3].reason == "CONTACT_CAP_DAY"
        # 00:00 Tuesday in Berlin: customer 1 has a new day; customer 2 (no zone given) is still in Shanghai's
        # Tuesday, which began before their 3 touches.
        h.clock.set(datetime(2026, 1, 5, 23, 0, tzinfo=UTC))
        assert (await offer(s, 1, "restaurant")).outcome == OFFERED
        assert (await offer(s, 2, "restaurant")).reason == "CONTACT_CAP_DAY"


async def test_a_visit_the_caps_refuse_is_not_an_arrival_for_the_pacer(db_target: DbTarget, tmp_path: Path) -> None:
    """The pacer spreads the budget over the arrivals it may offer to; a refused visit spends nothing."""
    async with rewards_service(db_target, tmp_path) as h:
        s = stub(h)
        h.clock.set(datetime(2026, 1, 10, 1, 0, tzinfo=UTC))  # Saturday 09:00 in Shanghai
        got = [await offer(s, 1, scene) for scene in ("mall", "restaurant", "mall", "restaurant", "mall")]
        assert [r.outcome for r in got] == [OFFERED, OFFERED, OFFERED, NOT_OFFERED, NOT_OFFERED]
        cfg = h.app.config.model
        seen = {cid: sum(h.app.runtime.campaign(cfg, cid).pacer.arrivals.values()) for cid in ("mall", "food")}
        assert seen == {"mall": 2, "food": 1}
