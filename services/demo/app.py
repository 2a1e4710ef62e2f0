"""Composition root of the demo: the whole suite in this process on one movable clock.

Router, growth and rewards are built by their own composition roots (services.registry) over SQLite files
in the demo's directory, each served on a free port (never the default ports, so a running `skylane serve
all` is left alone; chosen before start so services that consume each other's events are pointed at
each other), next to the reference partner lenders of the partner scenario (`skylane partner-sim`), also
on free ports. Every service reads the same ManualClock, which the demo moves
through the day; nothing waits for the wall clock.

The demo writes its own copies of the config files next to the databases, with three changes it says in
the report: the router's lenders point at the partner lenders' ports, the router's delivery runs when the
demo settles a slot (instead of on a timer, so the day plays out the same way every time), and the
campaigns run for 30 days around the demo day (so the demo works on any date). Besides, consumers given a
peer's address follow the demo's own services, and growth's consumers earn nothing from the loans drawn and
card payments the demo records in growth itself, so each of those earns once (`growth_earns_once`).

Seeding: the demo's own world is a pure function of the seed. The services draw from random generators
they are handed or create (Thompson sampling, back-off jitter) and name leads with random ids, which the
reference partners' verdicts hash; for one seed to give one report, the suite seeds those generators and
gives the partner layer's modules a seeded id source for as long as the suite runs (`SeededIds`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import types
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from services.common.clock import ManualClock
from services.common.db import default_sqlite_url
from services.common.server import RunningService, ServerOptions, start_service
from services.common.settings import AppSettings
from services.growth.config import GrowthEvents
from services.registry import SERVICES
from services.router.sim.partner_sim import RunningSim, start_sim, stop_sims
from services.router.sim.scenario import load_scenario

# The growth activities the demo records itself (services/demo/service/drive.py): no peer event earns as one.
DEMO_RECORDS = frozenset({"loan_drawn", "card_payment"})
CAMPAIGN_DAYS_BEFORE = 3
CAMPAIGN_DAYS = 30
# Modules of the partner layer whose `uuid` names leads and deliveries (see SeededIds).
_ID_MODULES = (
    "services.router.partners.service.desk",
    "services.router.partners.service.leads",
    "services.router.partners.service.delivery",
)


@dataclass(frozen=True)
class SuiteOptions:
    config_dir: Path
    var_dir: Path
    day: date
    seed: int
    partner_scenario: Path
    host: str = "127.0.0.1"
    # service → nested mapping merged into that service's config (e.g. a test shortening delivery attempts)
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Suite:
    clock: ManualClock
    zone: ZoneInfo
    services: dict[str, RunningService]
    sims: list[RunningSim]
    config_paths: dict[str, Path]

    def address(self, name: str) -> str:
        return self.services[name].address

    @property
    def addresses(self) -> dict[str, str]:
        return {name: s.address for name, s in self.services.items()}

    def local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone)

    async def settle(self, rounds: int = 20) -> int:
        """Runs the router's late selections and lead deliveries until nothing is due, then waits for the
        partners' outcome postbacks; returns the deliveries attempted."""
        router: Any = self.services["router"].app
        attempted = 0
        await router.leads.select_pending()
        for _ in range(rounds):
            done = await router.dispatcher.run_once()
            if not done:
                break
            attempted += sum(done.values())
        pending = [t for s in self.sims for t in list(getattr(s.sim, "_tasks", ()))]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        return attempted


class SeededIds:
    """A `uuid` stand-in for the partner layer's modules: uuid4() from a seeded generator, the rest of the
    module as is. Installed for the suite's lifetime and removed after (see the module docstring)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"demo-ids:{seed}")

    def __getattr__(self, name: str) -> Any:
        return getattr(uuid, name)

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self._rng.getrandbits(128), version=4)


@contextlib.contextmanager
def seeded_ids(seed: int) -> Iterator[None]:
    import importlib

    ids = SeededIds(seed)
    patched: list[tuple[types.ModuleType, Any]] = []
    for name in _ID_MODULES:
        module = importlib.import_module(name)
        if isinstance(getattr(module, "uuid", None), types.ModuleType):
            patched.append((module, module.uuid))
            module.uuid = ids  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module, original in patched:
            module.uuid = original  # type: ignore[attr-defined]


def seed_generators(root: Any, seed: int, path: str = "", depth: int = 4) -> int:
    """Seeds every random.Random reachable from root through attributes, dicts and lists (a few levels
    deep), each from the seed and its path; returns how many were seeded."""
    if isinstance(root, random.Random):
        root.seed(f"{seed}:{path}")
        return 1
    if depth == 0 or root is None or isinstance(root, str | bytes | int | float | bool | type | types.ModuleType):
        return 0
    if isinstance(root, dict):
        items = [(str(k), v) for k, v in root.items()]
    elif isinstance(root, list | tuple):
        items = [(str(i), v) for i, v in enumerate(root)]
    elif hasattr(root, "__dict__"):
        items = [(k, v) for k, v in vars(root).items() if not k.startswith("__")]
    else:
        return 0
    return sum(seed_generators(value, seed, f"{path}.{key}", depth - 1) for key, value in items)


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(document, dict):
        raise ValueError(f"{path}: not a mapping")
    return document


def router_config(document: dict[str, Any], endpoints: dict[str, str]) -> dict[str, Any]:
    """The router's lenders at the partner lenders' ports; delivery driven by the demo."""
    partners = dict(document.get("partners") or {})
    partners["lenders"] = [
        {**lender, "endpoint": endpoints[lender["id"]]} if lender.get("id") in endpoints else lender
        for lender in partners.get("lenders") or []
    ]
    partners["delivery"] = {**(partners.get("delivery") or {}), "background": False}
    return {**document, "partners": partners}


def rewards_config(document: dict[str, Any], day: date) -> dict[str, Any]:
    """Every campaign runs CAMPAIGN_DAYS days from CAMPAIGN_DAYS_BEFORE days before the demo day."""
    zone = ZoneInfo(str(document.get("timezone") or "UTC"))
    start = datetime.combine(day - timedelta(days=CAMPAIGN_DAYS_BEFORE), time(), tzinfo=zone)
    end = start + timedelta(days=CAMPAIGN_DAYS)
    campaigns = [{**c, "start": start.isoformat(), "end": end.isoformat()} for c in document.get("campaigns") or []]
    return {**document, "campaigns": campaigns}


def peers_at(document: dict[str, Any], addresses: dict[str, str]) -> dict[str, Any]:
    """A service's event consumers (`events.peers`, if any) pointed at the demo's own services, never at
    whatever listens on the default ports."""
    events = document.get("events")
    if not isinstance(events, dict) or not isinstance(events.get("peers"), dict):
        return document
    peers = {
        name: {**(peer or {}), "address": addresses[name]}
        if name in addresses and (peer or {}).get("address")
        else peer
        for name, peer in events["peers"].items()
    }
    return {**document, "events": {**events, "peers": peers}}


def growth_earns_once(document: dict[str, Any]) -> dict[str, Any]:
    """Growth's consumers map no peer event to an activity the demo records in growth itself.

    The demo tells growth of every loan drawn and card payment (RecordActivity, one call at a time on the
    demo's clock). Were growth also following the router and rewards with the shipped mapping, the router's
    `loan_drawn` and rewards' `payment_recorded` would earn the same loan and payment a second time; so
    those mappings are dropped and each earns once. Other mappings (a coupon redeemed) stay."""
    found = document.get("events")
    events: dict[str, Any] = found if isinstance(found, dict) else {}
    mapped = GrowthEvents.model_validate({"activities": events["activities"]} if events.get("activities") else {})
    activities = {
        peer: {kind: activity for kind, activity in kinds.items() if activity not in DEMO_RECORDS}
        for peer, kinds in mapped.activities.items()
    }
    return {**document, "events": {**events, "activities": activities}}


def write_configs(options: SuiteOptions, endpoints: dict[str, str], addresses: dict[str, str]) -> dict[str, Path]:
    folder = options.var_dir / "config"
    folder.mkdir(parents=True, exist_ok=True)
    documents = {name: _load(options.config_dir / f"{name}.yaml") for name in SERVICES}
    documents["router"] = router_config(documents["router"], endpoints)
    documents["rewards"] = rewards_config(documents["rewards"], options.day)
    documents = {name: _merge(document, options.overrides.get(name, {})) for name, document in documents.items()}
    # After the overrides: peers always follow the demo's servers, and growth earns once per loan and payment.
    documents = {name: peers_at(document, addresses) for name, document in documents.items()}
    documents["growth"] = growth_earns_once(documents["growth"])
    paths = {}
    for name, document in documents.items():
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
        paths[name] = path
    return paths


def free_port(host: str) -> int:
    """A port the kernel calls free now (never a fixed default port)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def timezone_of(options: SuiteOptions) -> ZoneInfo:
    return ZoneInfo(str(_load(options.config_dir / "router.yaml").get("timezone") or "UTC"))


@asynccontextmanager
async def running_suite(options: SuiteOptions) -> AsyncIterator[Suite]:
    """The suite, started and seeded, at 00:00 of the demo day; stopped (partners last) on exit."""
    zone = timezone_of(options)
    clock = ManualClock(datetime.combine(options.day, time(), tzinfo=zone))
    scenario = load_scenario(options.partner_scenario)
    sims = [
        await start_sim(spec.model_copy(update={"port": 0}), host=options.host, seed=options.seed)
        for spec in scenario.partners
    ]
    services: dict[str, RunningService] = {}
    try:
        with seeded_ids(options.seed):
            ports = {name: free_port(options.host) for name in SERVICES}  # known up front: peers name each other
            addresses = {name: f"{options.host}:{port}" for name, port in ports.items()}
            paths = write_configs(options, {s.sim.spec.id: f"{options.host}:{s.port}" for s in sims}, addresses)
            for name, entry in SERVICES.items():
                settings = AppSettings(
                    config_path=paths[name],
                    db_url=default_sqlite_url(name, options.var_dir),
                    clock=clock,
                    environ={},  # the demo's files as written: no SKYLANE_* overrides from this shell
                    sqlite_synchronous="OFF",  # a demo database is thrown away: no fsync per commit
                )
                server = ServerOptions(
                    host=options.host, port=ports[name], metrics_port=None, config_poll_seconds=None, access_log=False
                )
                services[name] = await start_service(entry.build(settings), server)
            _seed_services(services, options.seed)
            for s in sims:
                s.sim.router = services["router"].address  # outcome postbacks
            yield Suite(clock, zone, services, sims, paths)
    finally:
        for running in reversed(list(services.values())):
            with contextlib.suppress(Exception):
                await running.stop(grace=1.0)
        await stop_sims(sims)


def _seed_services(services: dict[str, RunningService], seed: int) -> None:
    router, rewards = services["router"].app, services["rewards"].app
    runtime = getattr(rewards, "runtime", None)
    if runtime is not None and hasattr(runtime, "campaign"):
        for campaign in rewards.config.model.campaigns:  # create every campaign's policy state now, to seed it
            runtime.campaign(rewards.config.model, campaign.id)
    for name, root in (("router.partners", getattr(router, "partners", None)),
                       ("router.dispatcher", getattr(router, "dispatcher", None)),
                       ("rewards.runtime", runtime)):  # fmt: skip
        seed_generators(root, seed, name)
