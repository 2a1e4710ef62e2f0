"""The services this suite runs, their composition roots, default ports and what "live" means for each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.common.app import ServiceApp
from services.common.settings import AppSettings

# Given a service's config model and the time now: one line per reason it serves nothing (empty: it serves).
LiveCheck = Callable[[Any, datetime], list[str]]


def _always_live(config: Any, now: datetime) -> list[str]:
    return []


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    default_port: int
    default_metrics_port: int
    build: Callable[[AppSettings], ServiceApp]
    nothing_live: LiveCheck = _always_live


def _router(settings: AppSettings) -> ServiceApp:
    from services.router.app import build

    return build(settings)


def _growth(settings: AppSettings) -> ServiceApp:
    from services.growth.app import build

    return build(settings)


def _rewards(settings: AppSettings) -> ServiceApp:
    from services.rewards.app import build

    return build(settings)


def _local(when: datetime, zone: str) -> str:
    return f"{when.astimezone(ZoneInfo(zone)):%Y-%m-%d %H:%M}"


def _rewards_nothing_live(config: Any, now: datetime) -> list[str]:
    """No campaign active now: every Offer answers NO_ACTIVE_CAMPAIGN (e.g. the example dates all passed)."""
    from services.rewards.runtime import campaign_active

    if any(campaign_active(c, now) for c in config.campaigns):
        return []
    zone = config.timezone
    windows = ", ".join(f"{c.id} {_local(c.start, zone)} to {_local(c.end, zone)}" for c in config.campaigns)
    return [
        f"no campaign is active at {_local(now, zone)} {zone}, so every Offer answers NO_ACTIVE_CAMPAIGN; "
        + (f"campaigns: {windows}" if windows else "no campaigns are configured")
    ]


def _router_nothing_live(config: Any, now: datetime) -> list[str]:
    """No applicant can be served: every tier declines, or neither in-house capacity nor a usable lender."""
    policy, partners = config.policy, config.partners
    served = [t.name for t in policy.tiers if t.route != "decline"]
    if not served:
        return ["every tier routes to decline, so no applicant is served"]
    in_house = [t.name for t in policy.tiers if t.route == "in_house"]
    if in_house and policy.in_house is not None and policy.in_house.daily_cap > 0:
        return []
    usable = [
        p.id
        for p in partners.lenders
        if p.enabled
        and p.allow_listed
        and p.annual_cost_rate <= partners.cost_ceiling_rate
        and set(p.tiers) & set(served)
    ]
    if usable:
        return []
    return [
        f"no in-house capacity and no enabled, allow-listed lender within the cost ceiling serves tiers "
        f"{', '.join(served)}, so no applicant can be placed"
    ]


def _growth_nothing_live(config: Any, now: datetime) -> list[str]:
    if config.tasks:
        return []
    return ["no tasks are configured, so no activity earns points or growth"]


SERVICES: dict[str, ServiceEntry] = {
    "router": ServiceEntry("router", 50051, 9151, _router, _router_nothing_live),
    "growth": ServiceEntry("growth", 50052, 9152, _growth, _growth_nothing_live),
    "rewards": ServiceEntry("rewards", 50053, 9153, _rewards, _rewards_nothing_live),
}

# The reference partner lenders of config/scenarios/partners.yaml (`serve all --with-partner-sim`).
DEMO_PARTNER_PORTS = (50061, 50062, 50063, 50064)

# Every port a running suite takes by default, and PostgreSQL's: tests, benchmarks and private clusters
# never take them, so they can run beside a demo started from the repository folder.
DEFAULT_PORTS = frozenset(
    {
        *(entry.default_port for entry in SERVICES.values()),
        *(entry.default_metrics_port for entry in SERVICES.values()),
        *DEMO_PARTNER_PORTS,
    }
)
RESERVED_PORTS = DEFAULT_PORTS | {5432}


def nothing_live(app: ServiceApp) -> list[str]:
    """Why a running service serves nothing right now under its current config (empty: something is live)."""
    entry = SERVICES.get(app.name)
    return entry.nothing_live(app.config.model, app.clock.now()) if entry is not None else []
