"""The dry run of triggers over history: recorded events replayed through triggers in memory, with the
rules the live journeys use (domain/journey.py, domain/contact.py) and no side effects.

The replay walks time forward. At one instant it first applies the recorded events and the touches
recorded in history (requested offers, fallback waves, touches of live triggers not replayed), in the
order they were recorded, then runs the journeys pass as the service does: a customer's due touches in
campaign priority order, each judged as the live touch is (a held-out customer's or a wave 4 touch is
recorded at once; past its validity it is routed; else opt-out, quiet hours, the trigger's window and
the caps of the one ledger). A refused touch is tried again at the next moment the answer can change
(the customer's next local midnight, the end of quiet hours, the next opening of the window) and routed
once its validity has passed. A touch recorded in history that the replayed touches leave no room for
is counted as displaced; it is not retried (the replay cannot know what its caller would have done).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.rewards.config import Campaign, RewardsConfig, Trigger
from services.rewards.domain import contact, holdout, journey
from services.rewards.domain.profile import Profile, unmet

WAITING = "WAITING"


@dataclass(frozen=True)
class Recorded:
    """One recorded event: its trigger name (`outside.payroll_credited`, `growth.level_changed` …)."""

    at: datetime
    name: str
    customer: str
    data: Mapping[str, str]


@dataclass(frozen=True)
class RecordedTouch:
    """A touch made in history that the replay keeps (REQUESTED, FALLBACK, or TRIGGERED by a live trigger
    the replay does not replace)."""

    at: datetime
    customer: str
    source: str


@dataclass
class Entry:
    trigger: Trigger
    customer: str
    number: int
    entered_at: datetime
    grp: str = holdout.TREATMENT
    due: datetime | None = None
    until: datetime | None = None
    fate: str = WAITING
    at: datetime | None = None  # when the fate came
    deferred: list[str] = field(default_factory=list)  # each reason once, in order

    @property
    def active(self) -> bool:
        return self.fate == WAITING and self.due is not None


@dataclass
class _Customer:
    zone: ZoneInfo
    level: str = ""
    level_at: datetime | None = None
    verdict: journey.KeptRisk | None = None
    flags: dict[str, datetime] = field(default_factory=dict)
    touches: Counter[date] = field(default_factory=Counter)


@dataclass
class Outcome:
    entries: list[Entry] = field(default_factory=list)
    displaced: Counter[tuple[str, str]] = field(default_factory=Counter)  # (source, reason) → touches
    touches: Counter[tuple[str, date]] = field(default_factory=Counter)  # (customer, local day) → touches
    events: int = 0


@dataclass(frozen=True)
class History:
    """What the replay starts from: the recorded events and touches (oldest first), each customer's time
    zone as their outside events gave it (else `default_zone`), their recorded holdout groups, the growth
    level and risk verdict kept before the replay began, and who is opted out."""

    events: Sequence[Recorded]
    touches: Sequence[RecordedTouch]
    zones: Mapping[str, str]
    groups: Mapping[tuple[str, str], str]  # (campaign, customer) → group
    levels: Mapping[str, tuple[str, datetime]]
    verdicts: Mapping[str, journey.KeptRisk]
    opted_out: frozenset[str]


_EVENT, _TOUCH, _PASS = 0, 1, 2
_NO_VERDICT = journey.KeptRisk("", "", "", None, {})


class Replay:
    """One dry run: `run(history, since, until)` replays [since, until] through `triggers` (the others in
    the config are not replayed; their recorded touches are in the history)."""

    def __init__(
        self, cfg: RewardsConfig, triggers: Sequence[Trigger], active: Callable[[Campaign, datetime], bool]
    ) -> None:
        self.cfg, self.triggers, self.active = cfg, list(triggers), active
        self.campaigns = {c.id: c for c in cfg.campaigns}
        self.default_zone = ZoneInfo(cfg.timezone)
        self.flag_types = {f for t in self.triggers if t.risk for f in t.risk.flags}
        self.marked = journey.marked_events(self.triggers)

    def run(self, history: History, since: datetime, until: datetime) -> Outcome:
        self.history, self.since, self.out = history, since, Outcome()
        self.customers: dict[str, _Customer] = {}
        self.latest: dict[str, dict[str, Entry]] = {}  # customer → trigger → the latest entry
        self.queue: list[tuple[datetime, int, int, object]] = []
        self.woken: set[tuple[datetime, str]] = set()  # passes already on the timeline
        for n, e in enumerate(history.events):
            self._push(e.at, _EVENT, n, e)
        for n, t in enumerate(history.touches):
            self._push(t.at, _TOUCH, n, t)
        self.order = len(history.events) + len(history.touches)
        while self.queue and self.queue[0][0] <= until:
            at, kind, _, item = heapq.heappop(self.queue)
            if kind == _EVENT:
                assert isinstance(item, Recorded)
                self._event(item)
            elif kind == _TOUCH:
                assert isinstance(item, RecordedTouch)
                self._recorded_touch(item)
            else:
                self.woken.discard((at, str(item)))
                self._pass(at, str(item))
        return self.out

    # --- the timeline --------------------------------------------------------------------------------

    def _push(self, at: datetime, kind: int, order: int, item: object) -> None:
        heapq.heappush(self.queue, (at, kind, order, item))

    def _wake(self, at: datetime, customer: str) -> None:
        if (at, customer) not in self.woken:
            self.woken.add((at, customer))
            self.order += 1
            self._push(at, _PASS, self.order, customer)

    def customer(self, ref: str) -> _Customer:
        found = self.customers.get(ref)
        if found is None:
            zone = contact.zone_of(self.history.zones.get(ref), self.default_zone)
            found = self.customers[ref] = _Customer(zone)
            kept = self.history.levels.get(ref)
            found.level, found.level_at = kept if kept else ("", None)
            found.verdict = self.history.verdicts.get(ref)
        return found

    # --- events --------------------------------------------------------------------------------------

    def _event(self, event: Recorded) -> None:
        c = self.customer(event.customer)
        zone = event.data.get("time_zone") if event.name.startswith("outside.") else None
        if zone:
            c.zone = contact.zone_of(zone, c.zone)
        if event.at < self.since:
            self._keep(c, event)  # before the replayed days: what it tells about the customer only
            return
        self.out.events += 1
        for entry in self.latest.get(event.customer, {}).values():
            if entry.active and event.name in entry.trigger.exit_on:
                self._finish(entry, journey.EXITED, event.at)
        self._keep(c, event)
        due_at_once = False
        for trigger in self.triggers:
            if trigger.event == event.name and journey.data_met(trigger, event.data):
                due_at_once = self._enter(trigger, event, c) or due_at_once
        if due_at_once:
            self._pass(event.at, event.customer)  # as live: made with the entry, before what comes next

    def _keep(self, c: _Customer, event: Recorded) -> None:
        if event.name.startswith("outside.") and event.name[8:] in self.flag_types:
            _latest(c.flags, event.name[8:], event.at)
        if event.name in self.marked:
            _latest(c.flags, journey.mark_key(event.name), event.at)
        if event.name == "growth.level_changed" and event.data.get("to"):
            c.level, c.level_at = event.data["to"], event.at
        elif event.name == "router.decision_made":
            d = event.data
            c.verdict = journey.KeptRisk(
                d.get("destination", ""), d.get("tier", ""), d.get("reasons", ""), event.at, {}
            )

    def _enter(self, trigger: Trigger, event: Recorded, c: _Customer) -> bool:
        """Enters the customer if the trigger lets them; True when the touch is due at once."""
        campaign, now, ref = self.campaigns[trigger.campaign], event.at, event.customer
        if not self.active(campaign, now):
            return False
        mine = self.latest.setdefault(ref, {})
        last = mine.get(trigger.id)
        if last is not None:
            state = journey.ACTIVE if last.active else journey.DONE
            if not journey.may_reenter(trigger, state, last.entered_at, now):
                if state != journey.ACTIVE:
                    self.out.entries.append(Entry(trigger, ref, last.number, now, fate=journey.REENTRY_BLOCKED, at=now))
                return False
        # What was kept before the replay counts from the moment it was kept (a later one was not known then).
        v = c.verdict if c.verdict is not None and (c.verdict.verdict_at or now) <= now else _NO_VERDICT
        level = c.level if c.level_at is None or c.level_at <= now else ""
        if unmet(trigger.when, Profile(growth_level=level, risk_destination=v.destination, risk_tier=v.tier)):
            return False
        if not journey.after_met(trigger.after, c.flags, event.at, c.zone):
            return False
        entry = Entry(trigger, ref, last.number + 1 if last else 1, now)
        mine[trigger.id] = entry
        self.out.entries.append(entry)
        kept = journey.KeptRisk(v.destination, v.tier, v.reasons, v.verdict_at, c.flags)
        if journey.screened_out(trigger.risk, kept, now):
            entry.fate, entry.at = journey.SCREENED, now
            return False
        first = holdout.assign(campaign.id, ref, campaign.holdout_share)
        entry.grp = self.history.groups.get((campaign.id, ref), first)
        entry.due = journey.due_at(trigger, event.at, c.zone)
        entry.until = entry.due + timedelta(hours=trigger.validity_hours)
        if entry.due > now:
            self._wake(entry.due, ref)
        return entry.due <= now

    # --- touches -------------------------------------------------------------------------------------

    def _recorded_touch(self, touch: RecordedTouch) -> None:
        c = self.customer(touch.customer)
        day = touch.at.astimezone(c.zone).date()
        refused = contact.cap_reached(self._state(c, day), self.cfg.contact)
        if refused and touch.at >= self.since:
            self.out.displaced[(touch.source, refused)] += 1
            return
        self._count(touch.customer, c, day, touch.at)

    def _state(self, c: _Customer, day: date) -> contact.ContactState:
        week = sum(n for d, n in c.touches.items() if day - timedelta(days=contact.WINDOW_DAYS - 1) <= d <= day)
        return contact.ContactState(False, c.touches.get(day, 0), week)

    def _count(self, ref: str, c: _Customer, day: date, at: datetime) -> None:
        c.touches[day] += 1
        if at >= self.since:
            self.out.touches[(ref, day)] += 1

    def _pass(self, now: datetime, ref: str) -> None:
        """The journeys pass for one customer: their due touches in campaign priority order."""
        due = [e for e in self.latest.get(ref, {}).values() if e.active and e.due is not None and e.due <= now]
        due.sort(key=lambda e: (-self.campaigns[e.trigger.campaign].priority, e.trigger.campaign, e.trigger.id))
        for entry in due:
            self._one(entry, now)

    def _one(self, entry: Entry, now: datetime) -> None:
        trigger, c = entry.trigger, self.customer(entry.customer)
        assert entry.until is not None
        if trigger.wave == journey.FOLLOW_UP_WAVE or entry.grp == holdout.HOLDOUT:
            fate = journey.FOLLOW_UP if trigger.wave == journey.FOLLOW_UP_WAVE else journey.WOULD_HAVE_TOUCHED
            self._finish(entry, fate, now)
            return
        if now >= entry.until:
            self._finish(entry, journey.ROUTED, now)
            return
        refused = self._refusal(entry, c, now)
        if refused is None:
            self._count(entry.customer, c, now.astimezone(c.zone).date(), now)
            self._finish(entry, journey.TOUCHED, now)
            return
        if refused not in entry.deferred:
            entry.deferred.append(refused)
        self._wake(min(self._retry_at(entry, c, now), entry.until), entry.customer)

    def _refusal(self, entry: Entry, c: _Customer, now: datetime) -> str | None:
        rules = self.cfg.contact
        if entry.customer in self.history.opted_out:
            return contact.OPTED_OUT
        if contact.in_quiet_hours(now, c.zone, rules.quiet_hours):
            return contact.QUIET_HOURS
        if not journey.in_window(entry.trigger.window, now, c.zone):
            return "OUTSIDE_WINDOW"
        return contact.cap_reached(self._state(c, now.astimezone(c.zone).date()), rules)

    def _retry_at(self, entry: Entry, c: _Customer, now: datetime) -> datetime:
        """The next moment the answer can change: the next local midnight, quiet hours' end or the
        window's opening, whichever comes first."""
        local = now.astimezone(c.zone)
        moments = [_next_local(local, time(0, 0), c.zone)]
        quiet = self.cfg.contact.quiet_hours
        if quiet is not None:
            moments.append(_next_local(local, _hhmm(quiet.end), c.zone))
        if entry.trigger.window is not None:
            moments.append(_next_local(local, _hhmm(entry.trigger.window.start), c.zone))
        return min(moments)

    def _finish(self, entry: Entry, fate: str, now: datetime) -> None:
        entry.fate, entry.at = fate, now


def _latest(kept: dict[str, datetime], key: str, at: datetime) -> None:
    before = kept.get(key)
    kept[key] = max(before, at) if before else at


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _next_local(local: datetime, at: time, zone: ZoneInfo) -> datetime:
    """The next moment strictly after `local` whose local wall time is `at` (a time skipped by a
    daylight-saving change comes at the first moment after the gap)."""
    moment = datetime.combine(local.date(), at, tzinfo=zone)
    if moment <= local:
        moment = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=zone)
    utc = moment.astimezone(ZoneInfo("UTC"))
    return utc if utc > local else local + timedelta(minutes=1)


def touches_histogram(touches: Mapping[tuple[str, date], int]) -> dict[int, int]:
    """How many customer-days saw each number of touches."""
    return dict(sorted(Counter(touches.values()).items()))


def by_trigger(entries: Iterable[Entry]) -> dict[str, list[Entry]]:
    grouped: dict[str, list[Entry]] = {}
    for e in entries:
        grouped.setdefault(e.trigger.id, []).append(e)
    return grouped
