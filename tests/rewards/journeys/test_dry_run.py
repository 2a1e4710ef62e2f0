"""The dry run of draft triggers over history, against what the same triggers then do live on the same events.

A seeded history (customers in Shanghai, New York and London; payroll credits, sign-ins, account openings,
risk flags, exits and dormancy notices; requested offers competing for the same contact ledger, over a
week that holds New York's spring-forward day) is played into a rewards server with no triggers live, and
the drafts are dry-run there over it. The same history is then played, at the same moments, into a second
server with the drafts live, its journeys pass running every 15 minutes as the clock moves. Every entry's
fate, its local day and the first reason it waited, the requested offers the triggered touches displaced,
the touches per customer per local day: the dry run said what the live run did. The dry run changes
nothing, and bad drafts are refused with INVALID_ARGUMENT."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import grpc
import pytest
from sqlalchemy import func, select, text

from services.rewards.models import Decision, JourneyStep
from skylane.common.v1 import events_pb2, events_pb2_grpc, types_pb2
from skylane.rewards.v1 import rewards_pb2
from tests.events.helpers import eventually
from tests.helpers import DbTarget, Harness, db_target_for, field_violations, key
from tests.rewards.helpers import offer, stub
from tests.rewards.journeys.helpers import journeys_service

BASE = """
timezone: Asia/Shanghai
scenes: [mall]
contact: {per_day: 3, per_week: 5, quiet_hours: {start: "21:00", end: "08:00"}}
policy: {exploration: 0.0, prior_alpha: 50, prior_beta: 50, baseline_prior_alpha: 1, baseline_prior_beta: 99}
journey_pass_seconds: 0
campaigns:
  - id: payroll
    scenes: [mall]
    start: 2026-02-01T00:00:00+08:00
    end: 2026-06-01T00:00:00+08:00
    budget: {total_fen: 100000000, daily_fen: 10000000}
    arms: [{id: m100-10, threshold_fen: 10000, discount_fen: 1000, validity_days: 7}]
    holdout_share: 0.25
    claims_per_customer: 50
    conversion_value_fen: 10000
    priority: 5
  - id: wealth
    scenes: [mall]
    start: 2026-02-01T00:00:00+08:00
    end: 2026-06-01T00:00:00+08:00
    budget: {total_fen: 100000000, daily_fen: 10000000}
    arms: [{id: w200-20, threshold_fen: 20000, discount_fen: 2000, validity_days: 7}]
    holdout_share: 0.0
    conversion_value_fen: 10000
"""

DRAFT = """
triggers:
  - id: payroll-touch
    campaign: payroll
    event: outside.payroll_credited
    window: {start: "09:00", end: "20:00"}
    validity_hours: 30
    reentry_days: 2
    exit_on: [outside.wealth_purchased]
    risk: {within_days: 3, flags: [risk_flagged]}
  - id: new-account-signin
    campaign: wealth
    event: outside.sign_in
    after: {event: outside.account_opened, from_day: 1, to_day: 3}
    delay_minutes: 60
    validity_hours: 48
    reentry_days: 1
  - id: dormant-follow-up
    campaign: wealth
    wave: 4
    event: outside.account_dormant
"""

START = datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
DAYS = 7
STEP = timedelta(minutes=15)
ZONES = ["", "America/New_York", "Europe/London"]  # "": the config's Shanghai
KINDS = ["payroll_credited"] * 5 + ["sign_in"] * 4 + ["account_opened", "risk_flagged", "wealth_purchased"]
PROFILE = "profile_updated"  # an outside event no trigger takes: it only gives the customer's zone
FATES = ("TOUCHED", "WOULD_HAVE_TOUCHED", "FOLLOW_UP", "ROUTED", "EXITED", "SCREENED")


@dataclass(frozen=True)
class Item:
    at: datetime
    customer: str
    kind: str  # an outside event type, or "offer" for a requested offer
    zone: str


def history(seed: int, customers: int = 16) -> list[Item]:
    """Events and requested offers on the 15-minute grid (the live pass's period in the test)."""
    rng = random.Random(seed)
    items = []
    slots = DAYS * 24 * 4 - 1
    for n in range(customers):
        who, zone = f"dry-{n}", ZONES[n % len(ZONES)]
        items.append(Item(START, who, PROFILE, zone))  # the customer's zone, known from the start
        items += [Item(START + STEP * rng.randrange(1, slots), who, rng.choice(KINDS), zone) for _ in range(9)]
        items += [Item(START + STEP * rng.randrange(1, slots), who, "offer", zone) for _ in range(7)]
        if n % 4 == 0:
            items.append(Item(START + STEP * rng.randrange(1, slots), who, "account_dormant", zone))
    # At one moment: events first, then requested offers (as the replay orders what was recorded together).
    return sorted(items, key=lambda i: (i.at, i.kind == "offer", i.customer, i.kind))


async def play(h: Harness, item: Item) -> str:
    """Plays one item; returns what happened (the event's id, or the offer's outcome and reason)."""
    if item.kind == "offer":
        answer = await offer(stub(h), item.customer)
        return f"{rewards_pb2.OfferOutcome.Name(answer.outcome)}:{answer.reason}"
    event = events_pb2.OutsideEvent(
        idempotency_key=key(),
        source="bank",
        type=item.kind,
        customer=types_pb2.CustomerRef(ref=f"cust-hash-{item.customer}"),
        time_zone=item.zone,
    )
    ingest = events_pb2_grpc.EventIngestServiceStub(h.channel)
    answer = await ingest.IngestEvents(events_pb2.IngestEventsRequest(idempotency_key=key(), events=[event]))
    return answer.results[0].event_id


async def applied(h: Harness, event_id: str) -> bool:
    async with h.app.db.read() as session:
        found = await session.execute(text("SELECT 1 FROM consumed_events WHERE event_id = :e"), {"e": event_id})
        return found.first() is not None


def zone_of(item_zone: str) -> ZoneInfo:
    return ZoneInfo(item_zone or "Asia/Shanghai")


async def live_entries(h: Harness, zones: dict[str, str]) -> tuple[dict[tuple[str, str, int], tuple], set]:
    """Per (trigger, customer, entry): (fate, local day, first deferral reason); and the re-entries refused."""
    async with h.app.db.report() as session:
        rows = (
            await session.execute(
                select(JourneyStep.trigger_id, JourneyStep.customer_ref, JourneyStep.entry, JourneyStep.step,
                       JourneyStep.at, JourneyStep.detail)
            )
        ).all()  # fmt: skip
    entries: dict[tuple[str, str, int], dict[str, tuple[datetime, str]]] = {}
    for trigger, customer, entry, step, at, detail in rows:
        entries.setdefault((trigger, customer, entry), {})[step] = (at, detail)
    found, blocked = {}, set()
    for k, steps in entries.items():
        if "REENTRY_BLOCKED" in steps:
            blocked.add(k)
        fate = next((f for f in FATES if f in steps), "WAITING")
        at = steps[fate][0] if fate != "WAITING" else steps["ENTERED"][0]
        day = at.astimezone(zone_of(zones[k[1]])).date().isoformat()
        found[k] = (fate, day, steps["DEFERRED"][1] if "DEFERRED" in steps else "")
    return found, blocked


async def table_counts(h: Harness) -> dict[str, int]:
    names = ["journeys", "journey_steps", "decisions", "contacts", "assignments", "risk_flags", "touch_fates"]
    async with h.app.db.read() as session:
        return {n: int((await session.execute(text(f"SELECT count(*) FROM {n}"))).scalar_one()) for n in names}


@pytest.mark.parametrize("seed", [7])
async def test_the_dry_run_predicts_what_the_live_triggers_then_do_on_the_same_events(
    engine: str, tmp_path: Path, seed: int
) -> None:
    items = history(seed)
    zones = {f"cust-hash-{i.customer}": i.zone for i in items}
    end = START + timedelta(days=DAYS)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    draft_path = tmp_path / "draft.yaml"
    draft_path.write_text(DRAFT, encoding="utf-8")

    # Server A: history recorded with no trigger live; then the dry run of the drafts over it.
    async with (
        db_target_for(engine, tmp_path / "a", "a") as target,
        journeys_service(target, tmp_path / "a", BASE) as a,
    ):
        recorded = {}
        for n, item in enumerate(items):
            a.clock.set(item.at)
            recorded[n] = await play(a, item)
        a.clock.set(end)
        before = await table_counts(a)
        request = rewards_pb2.PreviewTriggersRequest(config_yaml=DRAFT, days=DAYS, list_entries=True)
        dry = await stub(a).PreviewTriggers(request)
        assert await table_counts(a) == before  # no side effects
        # The risk screen reads the router's verdicts, and no router is configured here: said, not hidden.
        assert [n.split(":")[0] for n in dry.notes] == ["router"]
    predicted = {
        (e.trigger_id, e.customer.ref, e.entry): (
            e.fate,
            e.local_day,
            e.deferred_reasons[0] if e.deferred_reasons else "",
        )
        for e in dry.entries
        if e.fate != "REENTRY_BLOCKED"
    }
    predicted_blocked = {(e.trigger_id, e.customer.ref, e.entry) for e in dry.entries if e.fate == "REENTRY_BLOCKED"}

    # Server B: the same history at the same moments, the drafts live, the pass every 15 minutes.
    async with (
        db_target_for(engine, tmp_path / "b", "b") as target,
        journeys_service(target, tmp_path / "b", BASE + DRAFT) as b,
    ):
        outcomes = {}
        at, n = START, 0
        while at < end:
            b.clock.set(at)
            while n < len(items) and items[n].at == at:
                outcomes[n] = got = await play(b, items[n])
                if items[n].kind not in ("offer", PROFILE):
                    await eventually(lambda e=got: applied(b, e), what=f"event {got} applied")
                n += 1
            await b.app.passes.journeys()
            at += STEP
        b.clock.set(end)
        live, blocked = await live_entries(b, zones)
        async with b.app.db.report() as session:
            made = (
                await session.execute(
                    select(Decision.customer_ref, Decision.decided_at).where(Decision.outcome == "OFFERED")
                )
            ).all()
        per_day = Counter((c, at.astimezone(zone_of(zones[c])).date()) for c, at in made)

    assert live == predicted
    assert blocked == predicted_blocked
    # The triggers did something worth predicting: touches, held-out customers, screens, waits, exits.
    fates = Counter(f for f, _, _ in live.values())
    assert fates["TOUCHED"] and fates["WOULD_HAVE_TOUCHED"] and fates["SCREENED"] and fates["FOLLOW_UP"]
    assert any(reason for _, _, reason in live.values())
    # Requested offers the triggered touches displaced: offered on A, refused on B, by reason.
    displaced = Counter(
        outcomes[n].split(":")[1]
        for n, item in enumerate(items)
        if item.kind == "offer" and recorded[n].startswith("OFFERED") and not outcomes[n].startswith("OFFERED")
    )
    assert displaced == {d.reason: d.count for d in dry.displaced if d.source == "REQUESTED"}
    assert sum(displaced.values()) > 0
    histogram = Counter(per_day.values())
    assert {t.touches: t.customer_days for t in dry.touches_per_customer_day} == dict(histogram)
    assert dry.max_touches_per_customer_day == max(histogram)
    rows = {t.trigger_id: t for t in dry.triggers}
    assert rows["payroll-touch"].touched == fates_of(live, "payroll-touch", "TOUCHED")
    assert rows["new-account-signin"].touched == fates_of(live, "new-account-signin", "TOUCHED")
    assert rows["dormant-follow-up"].follow_up == fates_of(live, "dormant-follow-up", "FOLLOW_UP")


def fates_of(live: dict[tuple[str, str, int], tuple], trigger: str, fate: str) -> int:
    return sum(1 for (t, _, _), (f, _, _) in live.items() if t == trigger and f == fate)


async def test_a_bad_draft_is_refused_and_changes_nothing(db_target: DbTarget, tmp_path: Path) -> None:
    async with journeys_service(db_target, tmp_path, BASE) as h:
        s, before = stub(h), await table_counts(h)
        bad = {
            "config_yaml": ("triggers: [", 5),
            "config_yaml ": ("campaigns: []", 5),
            "config_yaml  ": (DRAFT.replace("campaign: wealth", "campaign: nowhere"), 5),
            "days": (DRAFT, 0),
            "days ": (DRAFT, 400),
        }
        for field, (yaml_text, days) in bad.items():
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await s.PreviewTriggers(rewards_pb2.PreviewTriggersRequest(config_yaml=yaml_text, days=days))
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field.strip() in field_violations(caught.value)
        assert await table_counts(h) == before
        async with h.app.db.read() as session:
            assert (await session.execute(select(func.count()).select_from(JourneyStep))).scalar_one() == 0
