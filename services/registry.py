"""The services this suite runs, their composition roots and default ports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.common.app import ServiceApp
from services.common.settings import AppSettings


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    default_port: int
    default_metrics_port: int
    build: Callable[[AppSettings], ServiceApp]


def _router(settings: AppSettings) -> ServiceApp:
    from services.router.app import build

    return build(settings)


def _growth(settings: AppSettings) -> ServiceApp:
    from services.growth.app import build

    return build(settings)


def _rewards(settings: AppSettings) -> ServiceApp:
    from services.rewards.app import build

    return build(settings)


SERVICES: dict[str, ServiceEntry] = {
    "router": ServiceEntry("router", 50051, 9151, _router),
    "growth": ServiceEntry("growth", 50052, 9152, _growth),
    "rewards": ServiceEntry("rewards", 50053, 9153, _rewards),
}
