"""Champion / challenger state and its transitions (pure).

The config file and the ops RPCs both change which policy is champion and which is candidate. Rule:
the most recent change wins. A file load only counts as a change when the file's champion policy (or
its candidate block) differs from what the file said last time, so restarting the service never undoes
an ops activation, while editing the file always takes effect.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from services.common.hashing import stable_unit
from services.router.domain.model import Arm, Mode


@dataclass(frozen=True)
class FileCandidate:
    version: str
    mode: Mode
    share: float

    @property
    def digest(self) -> str:
        return f"{self.version}:{self.mode.value}:{self.share:.6f}"


@dataclass(frozen=True)
class ControlState:
    champion: str
    candidate: str | None
    mode: Mode
    share: float
    # What the config file said the last time it was applied (to detect edits).
    file_champion: str
    file_candidate_digest: str
    revision: int = 0


@dataclass(frozen=True)
class HistoryEvent:
    action: str
    champion: str
    candidate: str | None
    mode: Mode
    share: float


def event_of(action: str, state: ControlState) -> HistoryEvent:
    return HistoryEvent(action, state.champion, state.candidate, state.mode, state.share)


def apply_file(
    state: ControlState | None, file_champion: str, file_candidate: FileCandidate | None
) -> tuple[ControlState, list[HistoryEvent]]:
    """Merges what the config file says into the state; returns the new state and the changes made."""
    digest = file_candidate.digest if file_candidate else ""
    if state is None:
        fresh = ControlState(
            champion=file_champion,
            candidate=file_candidate.version if file_candidate else None,
            mode=file_candidate.mode if file_candidate else Mode.NONE,
            share=file_candidate.share if file_candidate else 0.0,
            file_champion=file_champion,
            file_candidate_digest=digest,
            revision=1,
        )
        return fresh, [event_of("file_load", fresh)]
    new = state
    if state.file_champion != file_champion:
        new = replace(new, champion=file_champion, file_champion=file_champion)
        if new.candidate == file_champion:
            new = replace(new, candidate=None, mode=Mode.NONE, share=0.0)
    if state.file_candidate_digest != digest:
        new = replace(
            new,
            candidate=file_candidate.version if file_candidate else None,
            mode=file_candidate.mode if file_candidate else Mode.NONE,
            share=file_candidate.share if file_candidate else 0.0,
            file_candidate_digest=digest,
        )
    if new == state:
        return state, []
    new = replace(new, revision=state.revision + 1)
    return new, [event_of("file_load", new)]


def activate(state: ControlState, version: str) -> ControlState:
    new = replace(state, champion=version, revision=state.revision + 1)
    if new.candidate == version:
        new = replace(new, candidate=None, mode=Mode.NONE, share=0.0)
    return new


def set_candidate(state: ControlState, version: str | None, mode: Mode, share: float) -> ControlState:
    if version is None or mode == Mode.NONE:
        return replace(state, candidate=None, mode=Mode.NONE, share=0.0, revision=state.revision + 1)
    return replace(state, candidate=version, mode=mode, share=share, revision=state.revision + 1)


def previous_champion(history_newest_first: list[HistoryEvent], current: str) -> str | None:
    """The champion in force before the current one took over."""
    seen_current = False
    for event in history_newest_first:
        if event.champion == current:
            seen_current = True
            continue
        if seen_current:
            return event.champion
    return None


def routes_alike(a: ControlState, b: ControlState) -> bool:
    """Whether two states route alike (revision and the file bookkeeping aside)."""
    return (a.champion, a.candidate, a.mode, a.share) == (b.champion, b.candidate, b.mode, b.share)


def came_by_rollback(history_newest_first: list[HistoryEvent], champion: str) -> bool:
    """Whether the champion in force took over by a rollback."""
    came_in: HistoryEvent | None = None
    for event in history_newest_first:
        if event.champion != champion:
            break
        came_in = event
    return came_in is not None and came_in.action == "rollback"


def changes_nothing(
    current: ControlState, proposed: ControlState, action: str, history_newest_first: list[HistoryEvent]
) -> bool:
    """Whether an ops change would leave things as they are, and so is answered without being recorded.

    Ops changes are serialised, so of two identical ones sent at once the second finds the first done:
    one that changes nothing (the same activation, the same candidate) is not recorded. Likewise a
    rollback while the champion is the one a rollback restored: it would reinstate the version just
    rolled back from, undoing its twin, so it changes nothing (going forward again is an activation).
    """
    if routes_alike(proposed, current):
        return True
    return action == "rollback" and came_by_rollback(history_newest_first, current.champion)


def in_rollout(salt: str, applicant_ref: str, share: float) -> bool:
    """Stable bucket: an applicant in the rollout at share s stays in it at any share above s."""
    return share > 0 and stable_unit(salt, applicant_ref) < share


def acting_arm(state: ControlState, salt: str, applicant_ref: str) -> Arm:
    if state.candidate is not None and state.mode == Mode.ROLLOUT and in_rollout(salt, applicant_ref, state.share):
        return Arm.CANDIDATE
    return Arm.CHAMPION
