"""Triggered journeys on a real rewards server following its own stream: a payroll event touches the
customer inside the local window, a redemption exits the journey and enters wave 2 with the next product,
the risk screen keeps flagged customers out (counted, never contacted), an exit event ends a waiting
journey, and the one contact ledger defers a capped touch (then makes it) or routes it past its validity."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from skylane.rewards.v1 import rewards_pb2
from tests.events.helpers import drain
from tests.helpers import DbTarget
from tests.rewards.helpers import claim, cust, offer, redeem, report, stub
from tests.rewards.journeys.helpers import config, decisions_of, ingest, journeys_service, reached, steps

OFFERED = rewards_pb2.OFFERED


async def test_payroll_touch_redemption_exit_and_the_next_product(db_target: DbTarget, tmp_path: Path) -> None:
    async with journeys_service(db_target, tmp_path, config()) as h:
        s = stub(h)
        await ingest(h, "pay-a", "cust-hash-a", "payroll_credited", amount_fen="1200000")
        # Monday 09:00 local: inside the window, due at once, so made with the entry.
        got = await reached(h, "payroll-signin", "cust-hash-a", "TOUCHED")
        assert [x[:2] for x in got] == [(1, "ENTERED"), (1, "TOUCHED")]
        assert await h.app.passes.journeys() == 0  # made once
        sent, _ = await drain(h.channel, types=["offer_triggered"])  # what a channel delivers
        assert [(e.customer.ref, e.data["trigger_id"], e.data["wave"]) for e in sent] == [
            ("cust-hash-a", "payroll-signin", "1")
        ]
        pending = await s.ListPendingOffers(rewards_pb2.ListPendingOffersRequest(customer=cust("a")))
        triggered = [o for o in pending.offers if o.campaign_id == "payroll"]
        assert [(o.wave, o.arm.id) for o in triggered] == [(1, "m100-10")]
        coupon = await claim(s, "a", triggered[0].offer_id)
        assert (await redeem(s, "a", coupon.coupon.coupon_id, "order-a-1")).discount.fen == 1000
        # The redemption (rewards' own event) enters wave 2, which pushes the next product.
        await reached(h, "next-product", "cust-hash-a", "TOUCHED")
        last = (await steps(h, "next-product", "cust-hash-a"))[-1]
        assert (last[:2], last[2].split(":")[1]) == ((1, "TOUCHED"), "wealth-first-purchase")
        assert [(c, w) for c, _, w, _ in await decisions_of(h, "cust-hash-a")] == [("payroll", 1), ("wealth", 2)]
        # Re-entry within 7 days of the last entry is refused and counted.
        await ingest(h, "pay-a-2", "cust-hash-a", "payroll_credited")
        assert (await reached(h, "payroll-signin", "cust-hash-a", "REENTRY_BLOCKED"))[-1][1] == "REENTRY_BLOCKED"
        # Every step is in the payroll campaign's funnel.
        (funnel,) = (await report(s, "payroll")).journeys
        assert funnel.trigger_id == "payroll-signin"
        t = funnel.treated
        assert (t.reached, t.touched, t.claimed, t.redeemed, t.next_product, t.converted) == (1, 1, 1, 1, 1, 1)
        assert (funnel.holdout.reached, funnel.reentry_blocked) == (0, 1)
        assert not funnel.converted_rate_difference.defined  # no holdout to compare with
        (second,) = (await report(s, "wealth")).journeys
        assert (second.trigger_id, second.wave, second.treated.touched) == ("next-product", 2, 1)


async def test_the_risk_screen_keeps_flagged_customers_out(db_target: DbTarget, tmp_path: Path) -> None:
    async with journeys_service(db_target, tmp_path, config()) as h:
        await ingest(h, "flag-b", "cust-hash-b", "risk_flagged", source_system="bairong")
        await ingest(h, "pay-b", "cust-hash-b", "payroll_credited")
        got = await reached(h, "payroll-signin", "cust-hash-b", "SCREENED")
        assert got == [(1, "SCREENED", "FLAG:risk_flagged")]
        assert await h.app.passes.journeys() == 0
        assert await decisions_of(h, "cust-hash-b") == []  # never contacted


async def test_an_exit_event_ends_a_waiting_journey_at_once(db_target: DbTarget, tmp_path: Path) -> None:
    async with journeys_service(db_target, tmp_path, config()) as h:
        h.clock.set(datetime(2026, 1, 5, 13, 0, tzinfo=UTC))  # 21:00 local: the window opens at 09:00
        await ingest(h, "pay-c", "cust-hash-c", "payroll_credited")
        await reached(h, "payroll-signin", "cust-hash-c", "ENTERED")
        assert await h.app.passes.journeys() == 0  # not due before 09:00
        await ingest(h, "bought-c", "cust-hash-c", "wealth_purchased")
        got = await reached(h, "payroll-signin", "cust-hash-c", "EXITED")
        assert got == [(1, "ENTERED", ""), (1, "EXITED", "outside.wealth_purchased")]
        h.clock.set(datetime(2026, 1, 6, 1, 0, tzinfo=UTC))  # Tuesday 09:00 local
        assert await h.app.passes.journeys() == 0
        assert await decisions_of(h, "cust-hash-c") == []


async def test_a_capped_touch_waits_for_room_or_is_routed_past_its_validity(
    db_target: DbTarget, tmp_path: Path
) -> None:
    async with journeys_service(db_target, tmp_path, config()) as h:
        s = stub(h)
        for _ in range(3):  # requested offers use up Monday's touches
            assert (await offer(s, "d")).outcome == OFFERED
        await ingest(h, "pay-d", "cust-hash-d", "payroll_credited")
        await reached(h, "payroll-signin", "cust-hash-d", "ENTERED")  # tried with the entry: it waits
        assert (await steps(h, "payroll-signin", "cust-hash-d"))[-1] == (1, "DEFERRED", "CONTACT_CAP_DAY")
        h.clock.set(datetime(2026, 1, 6, 1, 0, tzinfo=UTC))  # Tuesday 09:00, within the 26 hours
        assert await h.app.passes.journeys() == 1
        # Customer e: Tuesday's touches used up; at Wednesday 12:00 the touch is past its validity.
        for _ in range(3):
            assert (await offer(s, "e")).outcome == OFFERED
        await ingest(h, "pay-e", "cust-hash-e", "payroll_credited")
        await reached(h, "payroll-signin", "cust-hash-e", "ENTERED")
        h.clock.set(datetime(2026, 1, 7, 4, 0, tzinfo=UTC))
        assert await h.app.passes.journeys() == 0
        got = await steps(h, "payroll-signin", "cust-hash-e")
        assert [x[1] for x in got] == ["ENTERED", "DEFERRED", "ROUTED"]
        fates = {
            (f.source, f.fate, f.reason): (f.count, f.deferrals) for f in (await report(s, "payroll")).contact_fates
        }
        assert fates[("TRIGGERED", "TOUCHED", "")] == (1, 1)
        assert fates[("TRIGGERED", "ROUTED", "VALIDITY_PASSED")] == (1, 1)
        assert fates[("REQUESTED", "TOUCHED", "")] == (6, 0)


async def test_the_holdout_survives_re_entry_and_records_what_would_have_been_touched(
    db_target: DbTarget, tmp_path: Path
) -> None:
    # cust-hash-h1 hashes into a 30% holdout of `payroll`, cust-hash-h0 does not.
    async with journeys_service(db_target, tmp_path, config(holdout=0.3)) as h:
        s = stub(h)
        for who in ("h0", "h1"):  # due at once: touched (or would-have-touched) with the entry
            await ingest(h, f"pay-{who}", f"cust-hash-{who}", "payroll_credited")
            await reached(h, "payroll-signin", f"cust-hash-{who}", "ENTERED")
        assert await h.app.passes.journeys() == 0
        assert (await steps(h, "payroll-signin", "cust-hash-h0"))[-1][1] == "TOUCHED"
        assert await steps(h, "payroll-signin", "cust-hash-h1") == [
            (1, "ENTERED", ""),
            (1, "HELD_OUT", ""),
            (1, "WOULD_HAVE_TOUCHED", ""),
        ]
        assert await decisions_of(h, "cust-hash-h1") == []
        # Ops drop the holdout; a week later the customer enters again and is still held out, also when the
        # channel app asks for an offer: the group was recorded on first sight.
        text = config(holdout=0.0)
        h.write_config(text + (h.config_path.read_text(encoding="utf-8")[len(config(holdout=0.3)) :]))
        ok, _, message = h.app.config.reload()
        assert ok, message
        h.clock.advance(days=7)
        await ingest(h, "pay-h1-2", "cust-hash-h1", "payroll_credited")
        await reached(h, "payroll-signin", "cust-hash-h1", "ENTERED", entry=2)
        assert await h.app.passes.journeys() == 0
        got = await steps(h, "payroll-signin", "cust-hash-h1")
        assert [x for x in got if x[0] == 2] == [(2, "ENTERED", ""), (2, "HELD_OUT", ""), (2, "WOULD_HAVE_TOUCHED", "")]
        assert (await offer(s, "h1")).outcome == rewards_pb2.HOLDOUT
        (funnel,) = (await report(s, "payroll")).journeys
        assert (funnel.treated.reached, funnel.treated.touched) == (1, 1)
        assert (funnel.holdout.reached, funnel.holdout.touched, funnel.holdout.claimed) == (1, 1, 0)


async def test_priority_decides_which_triggered_touch_gets_the_last_room(db_target: DbTarget, tmp_path: Path) -> None:
    both = (
        config()
        + """
  - id: payroll-wealth
    campaign: wealth
    event: outside.payroll_credited
    validity_hours: 48
"""
    )
    async with journeys_service(db_target, tmp_path, both) as h:
        s = stub(h)
        for _ in range(2):  # two requested touches today: room for one more
            assert (await offer(s, "p")).outcome == OFFERED
        await ingest(h, "pay-p", "cust-hash-p", "payroll_credited")
        await reached(h, "payroll-wealth", "cust-hash-p", "ENTERED")
        await reached(h, "payroll-signin", "cust-hash-p", "ENTERED")
        # Both entries are due at once: made with them, payroll (priority 5) first; wealth (priority 0) waits.
        assert (await steps(h, "payroll-signin", "cust-hash-p"))[-1][1] == "TOUCHED"
        assert (await steps(h, "payroll-wealth", "cust-hash-p"))[-1] == (1, "DEFERRED", "CONTACT_CAP_DAY")
        h.clock.advance(days=1)
        assert await h.app.passes.journeys() == 1
        assert (await steps(h, "payroll-wealth", "cust-hash-p"))[-1][1] == "TOUCHED"


async def test_a_real_time_touch_is_made_with_its_entry(db_target: DbTarget, tmp_path: Path) -> None:
    # The pass's own period is an hour: the touch can only come with the entry, in its unit of work.
    text = config().replace("journey_pass_seconds: 0", "journey_pass_seconds: 3600")
    async with journeys_service(db_target, tmp_path, text) as h:
        await ingest(h, "pay-w", "cust-hash-w", "payroll_credited")
        got = await reached(h, "payroll-signin", "cust-hash-w", "TOUCHED")
        assert [x[1] for x in got] == ["ENTERED", "TOUCHED"]
        assert [c for c, *_ in await decisions_of(h, "cust-hash-w")] == ["payroll"]
