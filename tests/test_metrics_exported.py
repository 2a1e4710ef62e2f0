"""After traffic through every domain, each service's /metrics endpoint exports every metric listed in
services/common/metric_names.py (so every metric the alert rules and the dashboard query), with the values
the traffic implies; and each domain event is logged once, with its ids and without personal data.

The three services run in-process on real sockets with their scrape endpoints on free ports; the router's
partner lenders are simulated partners (services/router/sim/partner_sim.py): `good` accepts every lead,
`picky` rejects every lead (so its leads fall back to `good`), and `flaky` answers pings but fails its
posts, so its circuit opens and its lead becomes a dead letter. The test drives the dispatcher, the
maintenance and the gauge passes itself (in each service's logging context, as the workers would).
"""

from __future__ import annotations

import asyncio
import io
import json
import urllib.request
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.common.clock import ManualClock
from services.common.logging import configure_logging, service_context
from services.common.metric_names import METRICS, SERIES
from services.common.server import ServerOptions
from services.growth.app import build as build_growth
from services.rewards.app import build as build_rewards
from services.router.app import build as build_router
from services.router.sim.partner_sim import RunningSim, start_sim, stop_sims
from skylane.growth.v1 import growth_pb2
from skylane.rewards.v1 import rewards_pb2
from skylane.router.v1 import router_pb2, router_pb2_grpc
from tests.growth.helpers import Client, config
from tests.helpers import Harness, db_target_for, running_service
from tests.rewards.helpers import MONDAY_9AM_LOCAL, claim, config_text, offer, redeem, stub
from tests.router.helpers import START
from tests.router.helpers import config_text as router_config_text
from tests.router.partners.helpers import applicant, partner_entry, route_request, sim
from tests.test_deploy import _dashboard_queries, _label_values_metrics, _rules, _used_metrics

WITH_METRICS = ServerOptions(port=0, metrics_port=0, config_poll_seconds=None, access_log=False)


@dataclass
class Scrape:
    """One /metrics scrape: sample name -> [(labels, value)]."""

    samples: dict[str, list[tuple[dict[str, str], float]]]

    def value(self, name: str, **labels: str) -> float:
        return sum(v for found, v in self.samples.get(name, []) if all(found.get(k) == w for k, w in labels.items()))


async def scrape(harness: Harness) -> Scrape:
    port = harness.service.metrics_port
    assert port is not None

    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            return str(response.read().decode())

    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(await asyncio.to_thread(get)):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return Scrape(samples)


# --- the router and its partners ----------------------------------------------------------------------


@asynccontextmanager
async def router_with_partners(engine: str, tmp_path: Path) -> AsyncIterator[tuple[Harness, dict[str, RunningSim]]]:
    sims = {
        pid: await start_sim(sim(pid, accept_rate=rate))
        for pid, rate in (("good", 1.0), ("picky", 0.0), ("flaky", 1.0))
    }
    partners = {
        "policy": "waterfall",  # who gets each tier's leads, fixed: picky then good; flaky then good
        "waterfall": {"near_prime": ["picky", "good"], "tail": ["flaky", "good"]},
        "delivery": {"background": False, "breaker_failures": 1, "breaker_cooldown_ms": 30_000, "max_attempts": 1},
        "lenders": [partner_entry(pid, running.address) for pid, running in sims.items()],
    }
    path = tmp_path / "router.yaml"
    path.write_text(router_config_text(stickiness_hours=0) + yaml.safe_dump({"partners": partners}), encoding="utf-8")
    try:
        async with (
            db_target_for(engine, tmp_path, "router") as target,
            running_service(build_router, target, path, clock=ManualClock(START), options=WITH_METRICS) as h,
        ):
            yield h, sims
    finally:
        await stop_sims(list(sims.values()))


async def drive_router(h: Harness, sims: dict[str, RunningSim]) -> list[str]:
    """Returns what identifies the applicants (their references and phone hashes)."""
    stub_ = router_pb2_grpc.RouterServiceStub(h.channel)
    applicants = [applicant(tier) for tier in ("near_prime", "near_prime", "tail", "tail")]
    for a in applicants[:3]:
        decision = await stub_.RouteApplicant(route_request(a))
        assert decision.destination == router_pb2.DESTINATION_PARTNER_POOL, decision
    sims["flaky"].sim.mode = "error"  # it bid; now its post fails
    with service_context("router"):
        for _ in range(6):
            await h.app.dispatcher.run_once()
        sims["flaky"].sim.mode = "none"
        h.clock.advance(timedelta(seconds=31))  # past the open period: the next post to flaky is the probe
        await stub_.RouteApplicant(route_request(applicants[3]))
        for _ in range(6):
            await h.app.dispatcher.run_once()
        await h.app.partner_telemetry.refresh(h.app.partners)
    return [text for a in applicants for text in (a.applicant_ref, a.phone_hash)]


def check_router(m: Scrape) -> None:
    deliveries = "skylane_router_lead_deliveries_total"
    assert m.value(deliveries, partner="good", outcome="delivered") == 2  # two near_prime leads, after picky
    assert m.value(deliveries, partner="picky", outcome="rejected") == 2
    assert m.value(deliveries, partner="flaky", outcome="dead_lettered") == 1
    assert m.value(deliveries, partner="flaky", outcome="delivered") == 1  # the probe, after the open period
    assert m.value("skylane_router_dead_letters", partner="flaky") == 1
    assert m.value("skylane_router_dead_letters", partner="good") == 0
    assert m.value("skylane_router_partner_circuit_open", partner="flaky") == 0  # closed by the probe
    assert {labels["partner"] for labels, _ in m.samples["skylane_router_partner_circuit_open"]} == {
        "good",
        "picky",
        "flaky",
    }
    assert m.value("skylane_router_partner_ping_seconds_count", partner="good") == 4  # every lead pinged it


# --- rewards ---------------------------------------------------------------------------------------------


async def drive_rewards(h: Harness) -> None:
    s = stub(h)
    first = await offer(s, "a")
    assert first.outcome == rewards_pb2.OFFERED, first
    coupon = (await claim(s, "a", first.offer_id)).coupon
    await redeem(s, "a", coupon.coupon_id, "order-1")
    # The budget (one coupon's worth) is used up: the next customer gets no coupon.
    second = await offer(s, "b")
    assert second.outcome == rewards_pb2.NOT_OFFERED and second.reason == "BUDGET_EXHAUSTED", second
    with service_context("rewards"):
        await h.app.passes.refresh_gauges()


def check_rewards(m: Scrape) -> None:
    assert m.value("skylane_rewards_offers_total", campaign="mall", outcome="offered") == 1
    assert m.value("skylane_rewards_offers_total", campaign="mall", outcome="budget_exhausted") == 1
    assert m.value("skylane_rewards_budget_total_fen", campaign="mall") == 1000
    assert m.value("skylane_rewards_budget_spent_fen", campaign="mall") == 1000
    assert m.value("skylane_rewards_budget_reserved_fen", campaign="mall") == 0
    assert m.value("skylane_rewards_budget_total_fen", campaign="food") == 1000
    assert m.value("skylane_rewards_pacing_price", campaign="mall") > 0


# --- growth ----------------------------------------------------------------------------------------------


async def drive_growth(h: Harness) -> str:
    c = Client(h)
    member = await c.enroll()
    earn = c.activity_request(member, "earn", points=500)
    await c.growth.RecordActivity(earn)
    await c.growth.RecordActivity(earn)  # a retry: answered from the stored response, counted once
    await c.growth.PreviewActivity(  # a dry run: counts nothing
        growth_pb2.PreviewActivityRequest(customer=earn.customer, activity=earn.activity)
    )
    await c.record(member, "grow")  # 100 growth: level l0 -> l1
    spend = await c.spend(member, 50)
    redemption = await c.redeem(member, "coffee")
    await c.confirm_redemption(redemption.id)  # 10 points spent, one coffee redeemed
    await c.reverse(spend.id)  # the 50 come back
    with service_context("growth"):
        await h.app.refresh_gauges()
        assert h.app.metrics.registry.get_sample_value("skylane_growth_points_liability") == 490
        h.clock.advance(timedelta(days=31))  # past the lots' expiry (30 days)
        await h.app.maintenance.run_once()
        await c.earn(member, 70)
        await h.app.refresh_gauges()
    return member


def check_growth(m: Scrape) -> None:
    points = "skylane_growth_points_total"
    assert m.value(points, kind="issued") == 570
    assert m.value(points, kind="spent") == 60
    assert m.value(points, kind="refunded") == 50
    assert m.value(points, kind="expired") == 490
    assert m.value("skylane_growth_points_liability") == 70
    assert m.value("skylane_growth_redemptions_total", right="coffee") == 1
    assert m.value("skylane_growth_right_stock", right="coffee") == 999
    assert m.value("skylane_growth_right_stock", right="lounge") == 3


# --- the test --------------------------------------------------------------------------------------------


def log_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_every_listed_metric_is_exported_after_traffic(engine: str, tmp_path: Path) -> None:
    log = io.StringIO()
    configure_logging("info", stream=log, cache=False)
    try:
        async with AsyncExitStack() as stack:
            router, sims = await stack.enter_async_context(router_with_partners(engine, tmp_path))
            rewards_config = tmp_path / "rewards.yaml"
            rewards_config.write_text(config_text(total=1000, daily=1000), encoding="utf-8")
            growth_config = tmp_path / "growth.yaml"
            growth_config.write_text(config(), encoding="utf-8")
            rewards_db = await stack.enter_async_context(db_target_for(engine, tmp_path, "rewards"))
            growth_db = await stack.enter_async_context(db_target_for(engine, tmp_path, "growth"))
            rewards = await stack.enter_async_context(
                running_service(
                    build_rewards, rewards_db, rewards_config, clock=ManualClock(MONDAY_9AM_LOCAL), options=WITH_METRICS
                )
            )
            growth = await stack.enter_async_context(
                running_service(build_growth, growth_db, growth_config, options=WITH_METRICS)
            )
            identifying = await drive_router(router, sims)
            await drive_rewards(rewards)
            member = await drive_growth(growth)
            scraped = {
                name: await scrape(h) for name, h in (("router", router), ("rewards", rewards), ("growth", growth))
            }
    finally:
        configure_logging("warning", cache=False)

    for metric in METRICS:
        services = scraped if metric.service == "all" else {metric.service: scraped[metric.service]}
        for service, m in services.items():
            for series in metric.series():
                assert m.samples.get(series), f"{service} exports no {series}"
    every_series = set().union(*(m.samples for m in scraped.values()))
    used = set(_used_metrics([r["expr"] for r in _rules()] + _dashboard_queries())) | set(_label_values_metrics())
    assert used <= every_series, f"queried but not exported: {sorted(used - every_series)}"
    assert {SERIES[name].name for name in used} == {m.name for m in METRICS}
    check_router(scraped["router"])
    check_rewards(scraped["rewards"])
    check_growth(scraped["growth"])

    text = log.getvalue()
    events = log_events(text)
    lead_events = [e for e in events if e["event"] in {"lead_delivered", "lead_dead_lettered"}]
    assert lead_events and not [t for t in identifying if any(t in json.dumps(e) for e in lead_events)]
    named = {e["event"]: e for e in events}
    for event, service in (
        ("lead_delivered", "router"),
        ("lead_dead_lettered", "router"),
        ("partner_circuit_opened", "router"),
        ("partner_circuit_closed", "router"),
        ("campaign_budget_exhausted", "rewards"),
        ("level_changed", "growth"),
    ):
        assert event in named, f"no {event} line"
        assert named[event]["service"] == service, named[event]
    assert sum(e["event"] == "lead_delivered" for e in events) == 3  # once per delivery
    assert {e["partner"] for e in events if e["event"] == "partner_circuit_opened"} == {"flaky"}
    dead = named["lead_dead_lettered"]
    assert dead["partner"] == "flaky" and dead["lead_id"] and dead["delivery_id"]
    levels = [e for e in events if e["event"] == "level_changed"]
    assert [(e["member"], e["from_level"], e["to_level"]) for e in levels] == [(member, "l0", "l1")]
    exhausted = [e for e in events if e["event"] == "campaign_budget_exhausted"]
    assert [(e["campaign"], e["budget"]) for e in exhausted] == [("mall", "total"), ("mall", "daily")]
