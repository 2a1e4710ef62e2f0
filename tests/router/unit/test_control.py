"""Champion/candidate control state: file loads against ops changes (the latest change wins), rollback,
ops changes that change nothing, and the stable rollout bucket."""

from __future__ import annotations

from services.router.domain import control as ctl
from services.router.domain.model import Arm, Mode

SHADOW_B = ctl.FileCandidate("b", Mode.SHADOW, 0.0)


def _fresh() -> ctl.ControlState:
    state, events = ctl.apply_file(None, "a", None)
    assert [e.action for e in events] == ["file_load"]
    return state


def test_the_first_load_takes_the_file_as_it_is() -> None:
    state, _ = ctl.apply_file(None, "a", SHADOW_B)
    assert (state.champion, state.candidate, state.mode, state.revision) == ("a", "b", Mode.SHADOW, 1)


def test_loading_an_unchanged_file_keeps_an_ops_activation() -> None:
    activated = ctl.activate(_fresh(), "c")
    again, events = ctl.apply_file(activated, "a", None)
    assert (again, events) == (activated, [])


def test_editing_the_file_takes_effect() -> None:
    activated = ctl.activate(_fresh(), "c")
    edited, events = ctl.apply_file(activated, "d", SHADOW_B)
    assert (edited.champion, edited.candidate, edited.revision) == ("d", "b", activated.revision + 1)
    assert [e.action for e in events] == ["file_load"]


def test_a_file_champion_equal_to_the_candidate_clears_the_candidate() -> None:
    state, _ = ctl.apply_file(None, "a", SHADOW_B)
    promoted, _ = ctl.apply_file(state, "b", SHADOW_B)
    assert (promoted.champion, promoted.candidate, promoted.mode) == ("b", None, Mode.NONE)


def test_activating_the_candidate_clears_it() -> None:
    state = ctl.set_candidate(_fresh(), "b", Mode.ROLLOUT, 0.2)
    assert (state.candidate, state.mode, state.share) == ("b", Mode.ROLLOUT, 0.2)
    active = ctl.activate(state, "b")
    assert (active.champion, active.candidate, active.mode, active.share) == ("b", None, Mode.NONE, 0.0)
    cleared = ctl.set_candidate(state, None, Mode.NONE, 0.5)
    assert (cleared.candidate, cleared.share) == (None, 0.0)


def test_rollback_finds_the_champion_before_the_current_one() -> None:
    history = [
        ctl.HistoryEvent("activate", "c", None, Mode.NONE, 0.0),
        ctl.HistoryEvent("set_candidate", "b", "c", Mode.SHADOW, 0.0),
        ctl.HistoryEvent("file_load", "b", None, Mode.NONE, 0.0),
        ctl.HistoryEvent("file_load", "a", None, Mode.NONE, 0.0),
    ]
    assert ctl.previous_champion(history, "c") == "b"
    assert ctl.previous_champion(history[2:], "b") == "a"
    assert ctl.previous_champion(history[3:], "a") is None


def test_changes_that_change_nothing_are_recognised() -> None:
    state = ctl.activate(_fresh(), "b")
    assert ctl.changes_nothing(state, ctl.activate(state, "b"), "activate", [])
    assert not ctl.changes_nothing(state, ctl.activate(state, "c"), "activate", [])
    # A rollback while the champion came by a rollback would undo its twin.
    by_rollback = [
        ctl.HistoryEvent("rollback", "b", None, Mode.NONE, 0.0),
        ctl.HistoryEvent("activate", "c", None, Mode.NONE, 0.0),
    ]
    assert ctl.came_by_rollback(by_rollback, "b")
    assert ctl.changes_nothing(state, ctl.activate(state, "c"), "rollback", by_rollback)
    assert not ctl.came_by_rollback(by_rollback[1:], "c") and not ctl.came_by_rollback([], "b")


def test_a_rollout_bucket_stays_in_as_the_share_grows() -> None:
    refs = [f"applicant-{n:06}" for n in range(2000)]
    at_10 = {r for r in refs if ctl.in_rollout("salt", r, 0.1)}
    at_50 = {r for r in refs if ctl.in_rollout("salt", r, 0.5)}
    assert at_10 < at_50 and 100 < len(at_10) < 300 and 850 < len(at_50) < 1150
    assert not any(ctl.in_rollout("salt", r, 0.0) for r in refs)


def test_the_candidate_acts_only_in_rollout_for_its_bucket() -> None:
    shadow = ctl.set_candidate(_fresh(), "b", Mode.SHADOW, 0.0)
    rollout = ctl.set_candidate(_fresh(), "b", Mode.ROLLOUT, 1.0)
    assert ctl.acting_arm(shadow, "salt", "applicant-1") == Arm.CHAMPION
    assert ctl.acting_arm(rollout, "salt", "applicant-1") == Arm.CANDIDATE
