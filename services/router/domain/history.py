"""What an applicant's earlier decisions mean for a new request: retries, sticky repeats and velocity (pure).

The router looks up, in one query, the decisions already holding a batch's idempotency keys and the recent
decisions of its applicants and devices. These functions read those rows:

- a row holding the request's key makes the request a retry (answered with the stored response);
- only live decisions count: a shadow (the other arm's view) and a sticky repeat (an answer copied from an
  earlier decision) neither make an applicant sticky nor count toward a velocity limit, or one request
  would count twice;
- an applicant whose newest live decision is within the stickiness window gets that decision again;
- velocity rules see the ages of the earlier live decisions, newest first, so a rule of any window can be
  replayed later from the recorded inputs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol


class PastDecision(Protocol):
    """A row of the batch lookup; `hit` says why it was found: "key", "app" (applicant) or "dev" (device)."""

    @property
    def hit(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def idempotency_key(self) -> str | None: ...
    @property
    def applicant_ref(self) -> str: ...
    @property
    def device_ref(self) -> str | None: ...
    @property
    def decided_at(self) -> datetime: ...


@dataclass
class History:
    """The lookup's rows sorted by meaning: retries by key, counted decisions by applicant and by device
    (each newest first)."""

    by_key: dict[str, Any] = field(default_factory=dict)
    by_applicant: dict[str, list[Any]] = field(default_factory=dict)
    by_device: dict[str, list[Any]] = field(default_factory=dict)

    def applicant(self, ref: str) -> list[Any]:
        return self.by_applicant.get(ref, [])

    def device(self, ref: str | None) -> list[Any]:
        return self.by_device.get(ref, []) if ref else []


def classify(rows: Iterable[PastDecision]) -> History:
    """Sorts lookup rows into retries and counted decisions; shadows and sticky repeats are dropped."""
    history = History()
    applicants: dict[str, list[Any]] = defaultdict(list)
    devices: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        if row.hit == "key":
            history.by_key[str(row.idempotency_key)] = row
        elif row.kind != "live":
            continue
        elif row.hit == "app":
            applicants[row.applicant_ref].append(row)
        else:
            devices[str(row.device_ref)].append(row)
    history.by_applicant = {ref: newest_first(found) for ref, found in applicants.items()}
    history.by_device = {ref: newest_first(found) for ref, found in devices.items()}
    return history


def newest_first(rows: Iterable[PastDecision]) -> list[Any]:
    return sorted(rows, key=lambda r: r.decided_at, reverse=True)


def is_sticky(stickiness_hours: int, decided_at: datetime, now: datetime) -> bool:
    """Whether a decision taken at `decided_at` is repeated to the same applicant asking again at `now`."""
    return stickiness_hours > 0 and decided_at >= now - timedelta(hours=stickiness_hours)


def sticky_repeat(recent: Sequence[PastDecision], stickiness_hours: int, now: datetime) -> Any | None:
    """The stored decision a new request repeats: the applicant's newest live one, when inside the window."""
    if recent and is_sticky(stickiness_hours, recent[0].decided_at, now):
        return recent[0]
    return None


def ages(now: datetime, decided_now: int, recent: Sequence[PastDecision]) -> tuple[float, ...]:
    """Velocity history: seconds since each earlier counted decision, newest first. `decided_now` decisions
    of the same batch (taken at `now`, not stored yet) come first, at age zero."""
    return (*([0.0] * decided_now), *((now - r.decided_at).total_seconds() for r in recent))
