"""The rules of event-triggered journeys (config `triggers`): which event a trigger listens to, whether an
event's data and the customer's kept inputs meet it, when its touch is due in the customer's local time,
whether a customer may enter again, and the risk screen. Pure: the live consumer and the dry run over
history share them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.rewards.config import AfterEvent, LocalWindow, RiskScreen, Trigger

# Journey states and the funnel's steps.
ACTIVE, DONE, EXITED, SCREENED = "ACTIVE", "DONE", "EXITED", "SCREENED"
ENTERED, HELD_OUT, TOUCHED, WOULD_HAVE_TOUCHED = "ENTERED", "HELD_OUT", "TOUCHED", "WOULD_HAVE_TOUCHED"
DEFERRED, ROUTED, FOLLOW_UP, REENTRY_BLOCKED = "DEFERRED", "ROUTED", "FOLLOW_UP", "REENTRY_BLOCKED"
NEXT_PRODUCT_WAVE, FOLLOW_UP_WAVE = 2, 4


def qualified(peer: str, event_type: str) -> str:
    """The name a trigger uses for a stream's event: outside events in rewards' stream keep their
    `outside.<type>`; a service's own events are `<service>.<type>`."""
    if peer == "rewards" and event_type.startswith("outside."):
        return event_type
    return f"{peer}.{event_type}"


def stream_of(name: str) -> tuple[str, str]:
    """(peer, stream type) of a trigger's event name: the inverse of `qualified`."""
    source, _, kind = name.partition(".")
    if source == "outside":
        return "rewards", name
    return source, kind


def listens_to(triggers: Iterable[Trigger]) -> dict[str, set[str]]:
    """Per peer stream, the event types the triggers enter on, exit on or screen with."""
    wanted: dict[str, set[str]] = {}
    for t in triggers:
        names = [t.event, *t.exit_on, *(f"outside.{f}" for f in (t.risk.flags if t.risk else []))]
        names += [t.after.event] if t.after else []
        for name in names:
            peer, kind = stream_of(name)
            wanted.setdefault(peer, set()).add(kind)
    return wanted


def data_met(trigger: Trigger, data: Mapping[str, str]) -> bool:
    return all(data.get(k) == v for k, v in trigger.data.items())


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def in_window(window: LocalWindow | None, at: datetime, tz: ZoneInfo) -> bool:
    if window is None:
        return True
    local = at.astimezone(tz).time()
    start, end = _hhmm(window.start), _hhmm(window.end)
    if start == end:
        return True
    if start < end:
        return start <= local < end
    return local >= start or local < end


def due_at(trigger: Trigger, event_at: datetime, tz: ZoneInfo) -> datetime:
    """When the touch is due: `delay_minutes` after the event, moved to the next opening of the local
    window if that falls outside it (the window's start on the customer's calendar, daylight saving
    included)."""
    at = event_at + timedelta(minutes=trigger.delay_minutes)
    if trigger.window is None or in_window(trigger.window, at, tz):
        return at
    local = at.astimezone(tz)
    start = _hhmm(trigger.window.start)
    opening = datetime.combine(local.date(), start, tzinfo=tz)
    if opening <= local:
        opening = datetime.combine(local.date() + timedelta(days=1), start, tzinfo=tz)
    return opening.astimezone(at.tzinfo)


def marked_events(triggers: Iterable[Trigger]) -> set[str]:
    """The events whose latest time per customer the triggers' `after` windows read."""
    return {t.after.event for t in triggers if t.after is not None}


def mark_key(name: str) -> str:
    """How the time of a marked event is kept beside the risk flags (store/journeys.py)."""
    return f"after:{name}"


def after_met(after: AfterEvent | None, marks: Mapping[str, datetime], at: datetime, tz: ZoneInfo) -> bool:
    """Whether `at` falls on local days `from_day`..`to_day` after the customer's latest `after.event`
    (never, when the customer has none)."""
    if after is None:
        return True
    marked = marks.get(mark_key(after.event))
    if marked is None or marked > at:
        return False
    days = (at.astimezone(tz).date() - marked.astimezone(tz).date()).days
    return after.from_day <= days <= after.to_day


def may_reenter(trigger: Trigger, state: str, entered_at: datetime, now: datetime) -> bool:
    """Whether a customer with an earlier entry may enter again: never while a journey is active; after it
    ended, only if `reentry_days` allows and that many days have passed since the last entry."""
    if state == ACTIVE or trigger.reentry_days is None:
        return False
    return now - entered_at >= timedelta(days=trigger.reentry_days)


@dataclass(frozen=True)
class KeptRisk:
    """What rewards kept of the customer's risk: the router's latest verdict and outside flags by type."""

    destination: str
    tier: str
    reasons: str
    verdict_at: datetime | None
    flags: Mapping[str, datetime]


def screened_out(screen: RiskScreen | None, kept: KeptRisk, now: datetime) -> str | None:
    """Why the risk screen keeps the customer out of the journey (`VERDICT:<what>`, `FLAG:<type>`), or None."""
    if screen is None:
        return None
    since = now - timedelta(days=screen.within_days)
    if kept.verdict_at is not None and kept.verdict_at >= since:
        named = {kept.destination, kept.tier, *(r for r in kept.reasons.split(",") if r)}
        hit = sorted(named & set(screen.exclude))
        if hit:
            return f"VERDICT:{hit[0]}"
    for flag in screen.flags:
        at = kept.flags.get(flag)
        if at is not None and at >= since:
            return f"FLAG:{flag}"
    return None
