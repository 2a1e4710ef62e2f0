"""What-if maths: recorded decisions replayed under a candidate, the in-house cap simulated per local day
from zero, changes counted and sampled."""

from __future__ import annotations

from services.router.domain.model import DECLINED_TIER, Destination
from services.router.domain.whatif import RecordedDecision, replay
from tests.router.unit.helpers import compiled, facts


def _recorded(name: str, score: int, tier: str, destination: Destination, day: str = "2026-01-05") -> RecordedDecision:
    return RecordedDecision(name, facts(name, score=score), day, tier, destination, score, ())


POOL, IN_HOUSE, DECLINED = Destination.PARTNER_POOL, Destination.IN_HOUSE, Destination.DECLINED

# The integration test's hand-computed example (tests/router/test_what_if.py), without a server.
RECORDED = [
    _recorded("a", 720, "prime", IN_HOUSE),
    _recorded("b", 690, "near_prime", POOL),
    _recorded("c", 685, "near_prime", POOL),
    _recorded("d", 620, "near_prime", POOL),
    _recorded("e", 550, "tail", POOL),
    _recorded("f", 480, DECLINED_TIER, DECLINED),
]


def test_replay_matches_the_hand_computed_example() -> None:
    result = replay(RECORDED, compiled(prime=680, near_prime=640, cap=2), max_samples=20)
    assert (result.replayed, result.changed) == (6, 3)
    assert dict(result.before.by_tier) == {"prime": 1, "near_prime": 3, "tail": 1, "declined": 1}
    assert dict(result.after.by_tier) == {"prime": 3, "tail": 2, "declined": 1}
    assert dict(result.after.by_destination) == {"IN_HOUSE": 2, "PARTNER_POOL": 3, "DECLINED": 1}
    assert [(c.before.decision_id, c.after.tier, c.after.destination) for c in result.samples] == [
        ("b", "prime", IN_HOUSE),
        ("c", "prime", POOL),
        ("d", "tail", POOL),
    ]
    assert [r.code for r in result.samples[1].after.reasons] == ["TIER_PRIME", "IN_HOUSE_CAPACITY_EXHAUSTED"]


def test_samples_are_limited_but_every_change_is_counted() -> None:
    result = replay(RECORDED, compiled(prime=680, near_prime=640, cap=2), max_samples=1)
    assert (result.changed, len(result.samples)) == (3, 1)


def test_the_cap_starts_again_each_local_day() -> None:
    days = [_recorded(f"x{i}", 720, "prime", IN_HOUSE, day=f"2026-01-0{5 + i // 2}") for i in range(4)]
    result = replay(days, compiled(cap=1), max_samples=20)
    assert dict(result.after.by_destination) == {"IN_HOUSE": 2, "PARTNER_POOL": 2}
