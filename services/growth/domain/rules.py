"""Earning rules: does a task match an event, and how much does it give (pure)."""

from __future__ import annotations

from collections.abc import Mapping

from services.growth.config import Condition, Task


def _number(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None


def condition_holds(cond: Condition, attributes: Mapping[str, str]) -> bool:
    raw = attributes.get(cond.attribute)
    if cond.op == "present":
        return raw is not None and raw != ""
    if raw is None:
        return False
    if cond.op == "in":
        return raw in cond.values
    if cond.op == "not_in":
        return raw not in cond.values
    if cond.op in ("eq", "ne"):
        equal = raw == str(cond.value)
        if not equal and isinstance(cond.value, int | float):
            number = _number(raw)
            equal = number is not None and number == float(cond.value)
        return equal if cond.op == "eq" else not equal
    number = _number(raw)
    if number is None or not isinstance(cond.value, int | float):
        return False
    target = float(cond.value)
    return {
        "gte": number >= target,
        "gt": number > target,
        "lte": number <= target,
        "lt": number < target,
    }[cond.op]


def matches(task: Task, event_type: str, attributes: Mapping[str, str]) -> bool:
    return task.event_type == event_type and all(condition_holds(c, attributes) for c in task.conditions)


def base_points(task: Task, attributes: Mapping[str, str]) -> int:
    points = task.points
    if task.per_unit is not None:
        number = _number(attributes.get(task.per_unit.attribute, "") or "")
        if number is not None and number > 0:
            extra = int(number // task.per_unit.per) * task.per_unit.points
            if task.per_unit.max_points is not None:
                extra = min(extra, task.per_unit.max_points)
            points += extra
    return points


def with_multiplier(points: int, multiplier: float, apply: bool) -> int:
    # Rounded down: a multiplier never creates fractional points.
    return int(points * multiplier) if apply else points


def cap_periods(task: Task) -> list[tuple[str, int | None]]:
    """(period, cap) pairs to count for a task; lifetime is always counted (first-time bonus)."""
    caps = task.caps
    out: list[tuple[str, int | None]] = [
        (period, cap)
        for period, cap in (("day", caps.per_day), ("week", caps.per_week), ("month", caps.per_month))
        if cap is not None
    ]
    out.append(("lifetime", caps.lifetime))
    return out


def streak_after(last_day: str | None, length: int, today: str, yesterday: str) -> tuple[int, bool]:
    """New streak length after activity on `today`, and whether it changed (same-day repeats don't)."""
    if last_day == today:
        return length, False
    if last_day is not None and last_day > today:  # late event for an older day: leave the streak alone
        return length, False
    return (length + 1 if last_day == yesterday else 1), True
