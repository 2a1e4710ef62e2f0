"""The arithmetic of the ops reads: per-version figures, the routing mix and its shares (pure).

The store hands over grouped counts; these functions turn them into what ops see, so the rules (a repeat
is not a new decision, agreement is agreed shadows over shadows, shares are of live decisions) live in one
place and are unit-tested without a database.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.router.domain.control import ControlState

MIX_KEYS = ("tier", "destination", "channel", "day")


@dataclass
class VersionFigures:
    """What one policy version did: decisions it acted on (per destination), shadows it recorded and how
    many of those agreed with the acting arm, and fallbacks to the champion when it failed."""

    acted: int = 0
    shadowed: int = 0
    agreed: int = 0
    fallbacks: int = 0
    by_destination: Counter[str] = field(default_factory=Counter)

    @property
    def agreement(self) -> float:
        return self.agreed / self.shadowed if self.shadowed else 0.0


def version_figures(stats: Iterable[Any]) -> dict[str, VersionFigures]:
    """Rows of (policy_version, kind, destination, n, agreed, fallbacks) → figures per version."""
    figures: dict[str, VersionFigures] = defaultdict(VersionFigures)
    for row in stats:
        f = figures[row.policy_version]
        if row.kind == "live":
            f.acted += row.n
            f.by_destination[row.destination] += row.n
            f.fallbacks += int(row.fallbacks or 0)
        else:
            f.shadowed += row.n
            f.agreed += int(row.agreed or 0)
    return figures


def role(version: str, state: ControlState) -> str:
    if version == state.champion:
        return "champion"
    return "candidate" if version == state.candidate else "retired"


@dataclass
class RoutingMix:
    """Live decisions counted by tier, destination, channel and local day; sticky repeats apart."""

    total: int = 0
    repeats: int = 0
    by: dict[str, Counter[str]] = field(default_factory=lambda: {k: Counter() for k in MIX_KEYS})


def routing_mix(groups: Iterable[Any]) -> RoutingMix:
    """Rows of (kind, local_day, channel, tier, destination, n) → the mix. A repeat answers again with an
    earlier decision, so it is counted as a repeat and not as a decision."""
    mix = RoutingMix()
    for g in groups:
        if g.kind == "repeat":
            mix.repeats += g.n
            continue
        mix.total += g.n
        mix.by["tier"][g.tier] += g.n
        mix.by["destination"][g.destination] += g.n
        mix.by["channel"][g.channel] += g.n
        mix.by["day"][g.local_day] += g.n
    return mix


def shares(counter: Counter[str], total: int, ordered_by_key: bool = False) -> list[tuple[str, int, float]]:
    """(key, count, share of total): largest first (ties by key), or by key (days)."""
    items = sorted(counter.items()) if ordered_by_key else sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(k, n, n / total if total else 0.0) for k, n in items]


def local_days(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """The first and last local day a window [start, end) touches."""
    first = start.astimezone(zone).date().isoformat()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date().isoformat()
    return first, last
