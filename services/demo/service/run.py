"""The demo as one use case: start the suite, bring the members' history in, play the day, collect the
reports, and shape them into the day's report."""

from __future__ import annotations

import time as wall
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Protocol

import grpc
import yaml

from services.demo.app import CAMPAIGN_DAYS, CAMPAIGN_DAYS_BEFORE, Suite, SuiteOptions, running_suite, timezone_of
from services.demo.domain import report
from services.demo.domain.tally import Tally
from services.demo.service import collect
from services.demo.service.drive import Day, Stubs, World, applicants_and_customers, planned


class Progress(Protocol):
    def phase(self, name: str, total: int) -> None: ...

    def update(self, done: int, total: int) -> None: ...


class NoProgress:
    def phase(self, name: str, total: int) -> None:
        pass

    def update(self, done: int, total: int) -> None:
        pass


@dataclass(frozen=True)
class DemoOptions:
    seed: int
    day: date
    customers: int
    applicants: int
    config_dir: Path
    var_dir: Path
    partner_scenario: Path
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)


def _config(folder: Path, name: str) -> dict[str, Any]:
    return yaml.safe_load((folder / f"{name}.yaml").read_text(encoding="utf-8")) or {}


async def run_demo(
    options: DemoOptions,
    progress: Progress | None = None,
    after: Callable[[Suite, dict[str, Any]], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Runs the demo day and returns its report; `after` gets the suite, still up, and the report."""
    progress = progress or NoProgress()
    started = wall.perf_counter()
    zone = timezone_of(
        SuiteOptions(options.config_dir, options.var_dir, options.day, options.seed, options.partner_scenario)
    )
    router_cfg, rewards_cfg, growth_cfg = (_config(options.config_dir, n) for n in ("router", "rewards", "growth"))
    channels = {str(c["id"]): [str(s) for s in c["scenarios"]] for c in router_cfg.get("channels") or []}
    customers, applicants = applicants_and_customers(options.seed, options.customers, options.applicants, channels)
    scenes = tuple(str(s) for s in rewards_cfg.get("scenes") or ())
    w = World(options.seed, options.day, zone, customers, applicants, scenes)
    events = planned(w)
    tally = Tally()
    suite_options = SuiteOptions(
        options.config_dir, options.var_dir, options.day, options.seed, options.partner_scenario,
        overrides=options.overrides,
    )  # fmt: skip
    progress.phase("starting the suite", 1)
    async with running_suite(suite_options) as suite:
        progress.update(1, 1)
        channels_open = {name: grpc.aio.insecure_channel(address) for name, address in suite.addresses.items()}
        try:
            day = Day(Stubs.over(channels_open), suite.clock, suite.settle, w, tally)
            progress.phase("members' history", sum(1 for c in customers if c.member and c.tenure_days))
            await day.bring_history(progress.update)
            progress.phase(f"the day {options.day.isoformat()}", len(events))
            await day.run(events, progress.update)
            progress.phase("reports", 1)
            inputs = await _inputs(options, suite, channels_open, tally, (rewards_cfg, growth_cfg))
            progress.update(1, 1)
            document = report.build(inputs)
            document["run"] = {
                "elapsed_s": round(wall.perf_counter() - started, 1),
                "addresses": suite.addresses,
                "partner_lenders": {s.sim.spec.id: s.address for s in suite.sims},
                "var_dir": str(options.var_dir),
            }
            if after is not None:
                await after(suite, document)
        finally:
            for channel in channels_open.values():
                await channel.close()
    return document


async def _inputs(
    options: DemoOptions,
    suite: Suite,
    channels: dict[str, grpc.aio.Channel],
    tally: Tally,
    configs: tuple[dict[str, Any], dict[str, Any]],
) -> report.Inputs:
    rewards_cfg, growth_cfg = configs
    campaign_ids = [str(c["id"]) for c in rewards_cfg.get("campaigns") or []]
    tiers = (growth_cfg.get("levels") or {}).get("tiers") or []
    start = datetime.combine(options.day, time(), tzinfo=suite.zone)
    meta = {
        "seed": options.seed,
        "date": options.day.isoformat(),
        "timezone": str(suite.zone),
        "customers": options.customers,
        "applicants": options.applicants,
        "partner_lenders": sorted(s.sim.spec.id for s in suite.sims),
    }
    notes = [
        f"Seed {options.seed}, {options.day:%A %d %B %Y} in {suite.zone}: {options.customers:,} bank customers and "
        f"{options.applicants:,} loan applicants, on the shipped config with the reference partner lenders.",
        f"Campaigns run {CAMPAIGN_DAYS} days from {CAMPAIGN_DAYS_BEFORE} days before the demo day, so the demo "
        "works on any date; everything else is the shipped configuration.",
        "Members bring their history (up to 85 days of activity) into the day; points and levels below count "
        "the demo day only.",
    ]
    return report.Inputs(
        meta=meta,
        tally=tally,
        traces=await collect.lead_traces(channels["router"], tally),
        partner_rows=await collect.partner_rows(channels["router"]),
        sims=collect.sim_counts(suite.sims),
        routing=await collect.routing_report(channels["router"], start),
        campaigns=await collect.campaigns(channels["rewards"], campaign_ids),
        campaign_names={str(c["id"]): str(c.get("name") or c["id"]) for c in rewards_cfg.get("campaigns") or []},
        level_order=[str(t["id"]) for t in tiers],
        level_names={str(t["id"]): str(t.get("name") or t["id"]) for t in tiers},
        right_names={str(r["id"]): str(r.get("name") or r["id"]) for r in growth_cfg.get("rights") or []},
        dead_letters=await collect.dead_letters(channels["router"]),
        notes=notes,
    )
