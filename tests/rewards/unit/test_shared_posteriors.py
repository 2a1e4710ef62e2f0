"""Taking in every replica's counts keeps what this process learned while they were read (runtime.py), with
no database: the counts read stand for everything recorded before the read began."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.rewards.domain.policy import PolicyParams, Posteriors
from services.rewards.runtime import SharedPosteriors

CELL = ("s", "a10")


def test_what_was_learned_while_the_counts_were_read_is_kept_on_top_of_them() -> None:
    live = SharedPosteriors()
    live.record_trial(*CELL, 2)  # before the read: in the counts read
    since = len(live.journal)
    live.record_trial(*CELL)  # while the rows were read: not in them
    live.record_claim(*CELL)
    read = Posteriors()
    read.record_trial(*CELL, 7)  # this replica's 2 and another replica's 5
    read.record_success(*CELL, 3)
    live.replace_counts(read, since)
    c = live.cells[CELL]
    assert (c.trials, c.successes, c.claims, c.expired) == (8, 3, 1, 0)
    assert live.journal == []


def test_a_refund_learned_meanwhile_is_taken_back_from_the_counts_read() -> None:
    live = SharedPosteriors()
    since = len(live.journal)
    live.retract_success(*CELL)
    read = Posteriors()
    read.record_trial(*CELL, 4)
    read.record_success(*CELL, 2)
    live.replace_counts(read, since)
    assert live.cells[CELL].successes == 1


def test_the_pooled_curve_and_the_change_stamps_follow_the_new_counts() -> None:
    params = PolicyParams(pooling=True)
    live = SharedPosteriors()
    live.record_trial("s", "a10", 100)
    live.record_success("s", "a10", 10)
    before_beta = live.beta("s", "a10", params)
    stamp = live.evidence["s"]
    read = Posteriors()
    read.record_trial("s", "a10", 100)
    read.record_success("s", "a10", 60)  # the other replicas saw it convert far more often
    live.replace_counts(read, len(live.journal))
    assert live.evidence["s"] > stamp  # caches keyed on the stamp see a change
    alpha, beta = live.beta("s", "a10", params)
    assert alpha / (alpha + beta) > before_beta[0] / sum(before_beta)


def test_passed_over_visits_learned_meanwhile_are_kept_on_top_of_the_counts_read() -> None:
    live = SharedPosteriors()
    since = len(live.journal)
    at = datetime(2026, 1, 5, tzinfo=UTC)
    live.record_pass("s")
    live.record_pass_payment("s")
    live.record_censor("s", at, at + timedelta(hours=5))
    read = Posteriors()
    read.record_pass("s", 4)
    read.add_censored("s", 5)
    live.replace_counts(read, since)
    u = live.untreated["s"]
    assert (u.trials, u.successes, u.censored) == (5, 1, {5: 2})
