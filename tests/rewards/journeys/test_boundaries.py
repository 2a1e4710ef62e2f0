"""Triggered and requested offers under the one contact ledger, at its boundaries, on a real rewards server
following its own stream: the last second of a local day and the first of the next, the last day of a
rolling 7 local days and the first after it (in Shanghai, without daylight saving, and in New York across
the spring-forward day), quiet hours ending at 09:00 local on London's change day; campaign priority
deciding which of a customer's due touches (triggered touches and fallback waves) gets the last room,
whichever way it is made; and the risk screen, inclusive at its edge, never contacting whom it screens."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from skylane.rewards.v1 import rewards_pb2
from tests.helpers import DbTarget, Harness, key
from tests.rewards.helpers import claim, offer, report, stub
from tests.rewards.journeys.helpers import decisions_of, journeys_service, reached, steps

OFFERED, NOT_OFFERED = rewards_pb2.OFFERED, rewards_pb2.NOT_OFFERED

CONFIG = """
timezone: Asia/Shanghai
scenes: [mall, supermarket]
contact: {per_day: 3, per_week: 5QUIET}
policy: {exploration: 0.0, prior_alpha: 50, prior_beta: 50, baseline_prior_alpha: 1, baseline_prior_beta: 99}
journey_pass_seconds: 0
campaigns:
  - id: payroll
    scenes: [mall]
    start: 2026-01-01T00:00:00+08:00
    end: 2026-06-01T00:00:00+08:00
    budget: {total_fen: 10000000, daily_fen: 1000000}
    arms: [{id: m100-10, threshold_fen: 10000, discount_fen: 1000, validity_days: 7}]
    holdout_share: HOLDOUT
    claims_per_customer: 20
    conversion_value_fen: 10000
    fallback: {arm: m100-10, delay_hours: 1, waves: 1}
    priority: 5
  - id: wealth
    scenes: [supermarket]
    start: 2026-01-01T00:00:00+08:00
    end: 2026-06-01T00:00:00+08:00
    budget: {total_fen: 10000000, daily_fen: 1000000}
    arms: [{id: w200-20, threshold_fen: 20000, discount_fen: 2000, validity_days: 7}]
    holdout_share: 0.0
    claims_per_customer: 20
    conversion_value_fen: 10000
    fallback: {arm: w200-20, delay_hours: 1, waves: 1}
triggers:
  - id: payroll-touch
    campaign: payroll
    event: outside.payroll_credited
    validity_hours: 72
    reentry_days: 0
    risk: {exclude: [DECLINED], within_days: 30, flags: [risk_flagged]}
  - id: wealth-touch
    campaign: wealth
    event: outside.sign_in
    validity_hours: 72
    reentry_days: 0
  - id: payroll-later
    campaign: payroll
    event: outside.bonus_credited
    delay_minutes: 60
    validity_hours: 72
"""


def config(*, quiet: bool = False, holdout: float = 0.0) -> str:
    hours = ', quiet_hours: {start: "21:00", end: "09:00"}' if quiet else ""
    return CONFIG.replace("QUIET", hours).replace("HOLDOUT", str(holdout))


def local(zone: str, day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=ZoneInfo(zone)).astimezone(UTC)


async def send(h: Harness, customer: str, kind: str, zone: str = "") -> None:
    event = events_pb2.OutsideEvent(
        idempotency_key=types_pb2.IdempotencyKey(value=key().value),
        source="bank",
        type=kind,
        customer=types_pb2.CustomerRef(ref=customer),
        time_zone=zone,
    )
    stub_ = events_pb2_grpc.EventIngestServiceStub(h.channel)
    answer = await stub_.IngestEvents(events_pb2.IngestEventsRequest(idempotency_key=key(), events=[event]))
    assert answer.results[0].status == events_pb2.INGEST_STATUS_ACCEPTED


async def enter(h: Harness, who: str, kind: str, zone: str = "") -> str:
    """Sends the event and waits for the consumer to enter the customer; returns the trigger's id."""
    trigger = {"payroll_credited": "payroll-touch", "bonus_credited": "payroll-later"}.get(kind, "wealth-touch")
    before = sum(1 for _, s, _ in await steps(h, trigger, f"cust-hash-{who}") if s == "ENTERED")
    await send(h, f"cust-hash-{who}", kind, zone)
    await reached(h, trigger, f"cust-hash-{who}", "ENTERED", entry=before + 1)
    return trigger


async def last_step(h: Harness, trigger: str, who: str) -> tuple[str, str]:
    return (await steps(h, trigger, f"cust-hash-{who}"))[-1][1:]


async def test_the_local_day_edge_holds_for_triggered_and_requested_touches_together(
    db_target: DbTarget, tmp_path: Path
) -> None:
    monday = date(2026, 1, 5)
    async with journeys_service(db_target, tmp_path, config()) as h:
        s = stub(h)
        h.clock.set(local("Asia/Shanghai", monday, 23, 0))
        assert [(await offer(s, "a")).outcome for _ in range(2)] == [OFFERED, OFFERED]
        await enter(h, "a", "payroll_credited")  # due at once: made with the entry, the day's third touch
        assert (await last_step(h, "payroll-touch", "a"))[0] == "TOUCHED"
        h.clock.set(local("Asia/Shanghai", monday, 23, 59, 59))
        trigger = await enter(h, "a", "sign_in")
        assert await h.app.passes.journeys() == 0
        assert await last_step(h, trigger, "a") == ("DEFERRED", "CONTACT_CAP_DAY")
        assert (await offer(s, "a")).reason == "CONTACT_CAP_DAY"
        h.clock.set(local("Asia/Shanghai", monday + timedelta(days=1), 0, 0, 0))  # Tuesday 00:00 local
        assert await h.app.passes.journeys() == 1
        assert (await last_step(h, trigger, "a"))[0] == "TOUCHED"
        # One more requested touch fits: the 7 days hold Monday's 3 and Tuesday's 2, the week's 5.
        got = [await offer(s, "a") for _ in range(2)]
        assert [(r.outcome, r.reason if r.outcome != OFFERED else "") for r in got] == [
            (OFFERED, ""),
            (NOT_OFFERED, "CONTACT_CAP_WEEK"),
        ]
        made = [(c, r) for c, r, _, _ in await decisions_of(h, "cust-hash-a")]
        assert made.count(("payroll", "TRIGGERED_WAVE_1")) == 1 and made.count(("wealth", "TRIGGERED_WAVE_1")) == 1


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
async def test_the_rolling_week_edge_holds_for_triggered_and_requested_touches_together(
    db_target: DbTarget, tmp_path: Path, zone: str
) -> None:
    # Monday 2026-03-02 to Sunday 2026-03-08; New York springs forward on that Sunday (a 23-hour day), so
    # its Monday 00:00 is 04:00 UTC, where Standard Time would still say Sunday 23:00.
    first = date(2026, 3, 2)
    given = zone if zone != "Asia/Shanghai" else ""  # Shanghai: the config zone, no zone given
    async with journeys_service(db_target, tmp_path, config()) as h:
        s = stub(h)
        for offset in range(5):  # one touch a day, Monday to Friday: requested, triggered, requested, …
            h.clock.set(local(zone, first + timedelta(days=offset), 12, 0))
            if offset % 2:
                await enter(h, "w", "payroll_credited", given)
                assert (await last_step(h, "payroll-touch", "w"))[0] == "TOUCHED"
            else:
                if offset == 0 and given:
                    await send(h, "cust-hash-w", "birthday", given)  # the zone is kept before the first touch
                assert (await offer(s, "w")).outcome == OFFERED
        h.clock.set(local(zone, first + timedelta(days=6), 23, 59, 59))  # Sunday, the 7 days' last second
        trigger = await enter(h, "w", "sign_in")  # tried with the entry: it waits
        assert await last_step(h, trigger, "w") == ("DEFERRED", "CONTACT_CAP_WEEK")
        assert (await offer(s, "w")).reason == "CONTACT_CAP_WEEK"
        monday = local(zone, first + timedelta(days=7), 0, 0, 0)
        assert monday - h.clock.now() == timedelta(seconds=1)
        h.clock.set(monday)  # last Monday's touch leaves the 7 days: one room, the waiting touch takes it
        assert await h.app.passes.journeys() == 1
        assert (await last_step(h, trigger, "w"))[0] == "TOUCHED"
        assert (await offer(s, "w")).reason == "CONTACT_CAP_WEEK"
        fates = {
            (f.source, f.fate, f.reason): (f.count, f.deferrals) for f in (await report(s, "wealth")).contact_fates
        }
        assert fates == {("TRIGGERED", "TOUCHED", ""): (1, 1)}


async def test_quiet_hours_end_at_local_nine_on_a_daylight_saving_change(db_target: DbTarget, tmp_path: Path) -> None:
    # London springs forward at 01:00 UTC on Sunday 2026-03-29: 09:00 local is 08:00 UTC that day.
    sunday = date(2026, 3, 29)
    async with journeys_service(db_target, tmp_path, config(quiet=True)) as h:
        s = stub(h)
        h.clock.set(local("Europe/London", sunday, 8, 30))
        trigger = await enter(h, "l", "payroll_credited", "Europe/London")
        assert await h.app.passes.journeys() == 0
        assert await last_step(h, trigger, "l") == ("DEFERRED", "QUIET_HOURS")
        assert (await offer(s, "l")).reason == "QUIET_HOURS"
        h.clock.set(datetime(2026, 3, 29, 7, 59, 59, tzinfo=UTC))  # 08:59:59 BST
        assert await h.app.passes.journeys() == 0
        h.clock.set(datetime(2026, 3, 29, 8, 0, 0, tzinfo=UTC))  # 09:00 BST (08:00 in GMT terms)
        assert await h.app.passes.journeys() == 1
        assert (await offer(s, "l")).outcome == OFFERED
        # The evening edge, for a London customer and one in the config's Shanghai (no zone given).
        h.clock.set(local("Europe/London", sunday, 20, 59, 59))
        assert (await offer(s, "l")).outcome == OFFERED
        h.clock.set(local("Europe/London", sunday, 21, 0))
        trigger = await enter(h, "l", "sign_in")
        assert await h.app.passes.journeys() == 0
        assert await last_step(h, trigger, "l") == ("DEFERRED", "QUIET_HOURS")
        h.clock.set(local("Asia/Shanghai", sunday + timedelta(days=1), 20, 59, 59))
        await enter(h, "s", "payroll_credited")
        assert (await last_step(h, "payroll-touch", "s"))[0] == "TOUCHED"  # the last second before quiet hours
        h.clock.set(local("Asia/Shanghai", sunday + timedelta(days=1), 21, 0))
        await enter(h, "s2", "payroll_credited")
        assert await last_step(h, "payroll-touch", "s2") == ("DEFERRED", "QUIET_HOURS")
        assert await h.app.passes.journeys() == 1  # London's 09:00 Monday came: customer l's waiting touch
        assert (await last_step(h, "wealth-touch", "l"))[0] == "TOUCHED"
        h.clock.set(local("Asia/Shanghai", sunday + timedelta(days=2), 8, 59, 59))
        assert await h.app.passes.journeys() == 0
        h.clock.set(local("Asia/Shanghai", sunday + timedelta(days=2), 9, 0))
        assert await h.app.passes.journeys() == 1
        assert (await last_step(h, "payroll-touch", "s2"))[0] == "TOUCHED"


async def test_priority_decides_between_fallback_waves_and_triggered_touches(
    db_target: DbTarget, tmp_path: Path
) -> None:
    # payroll (priority 5) outranks wealth (priority 0). Monday, customer f: a wealth fallback wave and a
    # delayed payroll touch due together, and the fallback pass comes first. Tuesday, customer g: a payroll
    # fallback wave due when a wealth trigger's touch, due at once, is made with its entry. Each has room
    # for one more touch: the higher priority takes it, the other waits.
    async with journeys_service(db_target, tmp_path, config()) as h:
        s = stub(h)
        await claim(s, "f", (await offer(s, "f", "supermarket")).offer_id)  # a wealth coupon
        assert (await offer(s, "f", "mall")).outcome == OFFERED
        h.clock.advance(minutes=30)
        await enter(h, "f", "bonus_credited")  # the payroll touch is due an hour later
        h.clock.advance(hours=1, minutes=30)  # both due now
        assert await h.app.passes.fallback() == 1  # the payroll touch, made by the fallback pass
        assert (await last_step(h, "payroll-later", "f"))[0] == "TOUCHED"
        assert await waves(h, "wealth") == [("DEFERRED", "CONTACT_CAP_DAY", 1)]

        h.clock.advance(hours=21)  # Tuesday 09:00
        await claim(s, "g", (await offer(s, "g", "mall")).offer_id)  # a payroll coupon
        assert (await offer(s, "g", "supermarket")).outcome == OFFERED
        h.clock.advance(hours=2)  # the payroll wave is due
        await enter(h, "g", "sign_in")  # the wealth touch is due at once: tried with the entry
        assert await last_step(h, "wealth-touch", "g") == ("DEFERRED", "CONTACT_CAP_DAY")
        assert await waves(h, "payroll") == [("TOUCHED", "", 1)]  # made in the entry's unit, first
        # Deferred, never dropped: f's wave goes out on Tuesday, g's triggered touch on Wednesday.
        assert await h.app.passes.fallback() == 1
        assert await waves(h, "wealth") == [("TOUCHED", "", 1)]
        h.clock.advance(days=1)
        assert await h.app.passes.journeys() == 1
        assert (await last_step(h, "wealth-touch", "g"))[0] == "TOUCHED"


async def waves(h: Harness, campaign: str) -> list[tuple[str, str, int]]:
    rep = await report(stub(h), campaign)
    return [(f.fate, f.reason, f.count) for f in rep.contact_fates if f.source == "FALLBACK"]


async def test_screened_customers_are_never_contacted_and_the_screen_holds_to_its_last_second(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with journeys_service(db_target, tmp_path, config(holdout=0.5)) as h:
        s = stub(h)
        flagged = [f"r{i}" for i in range(6)]  # with a 50% holdout some of them would be held out
        for who in flagged:
            await send(h, f"cust-hash-{who}", "risk_flagged")
        h.clock.advance(days=30)  # the flags are exactly 30 days old: still inside `within_days`
        for who in flagged:
            await send(h, f"cust-hash-{who}", "payroll_credited")
            assert await reached(h, "payroll-touch", f"cust-hash-{who}", "SCREENED") == [
                (1, "SCREENED", "FLAG:risk_flagged")
            ]
        for _ in range(3):
            assert await h.app.passes.journeys() == 0
            h.clock.advance(days=1)
        for who in flagged:
            assert await decisions_of(h, f"cust-hash-{who}") == []
        (funnel,) = [j for j in (await report(s, "payroll")).journeys if j.trigger_id == "payroll-touch"]
        assert (funnel.screened, funnel.treated.reached, funnel.holdout.reached) == (len(flagged), 0, 0)
        assert (funnel.treated.touched, funnel.holdout.touched) == (0, 0)
        # One second past the 30 days the flag no longer screens: the customer enters and is split.
        await send(h, "cust-hash-late", "risk_flagged")
        h.clock.advance(days=30, seconds=1)
        await send(h, "cust-hash-late", "payroll_credited")
        got = await reached(h, "payroll-touch", "cust-hash-late", "ENTERED")
        assert [x[1] for x in got if x[1] in ("SCREENED",)] == []
