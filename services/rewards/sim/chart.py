"""The learning curve of ``skylane rewards simulate --svg``: incremental value per yuan spent, by day."""

from __future__ import annotations

from services.common.line_chart import svg as line_chart
from services.rewards.sim.engine import BEST_SINGLE, LEARNED, RANDOM

COLOURS = {LEARNED: "#1f77b4", BEST_SINGLE: "#6a5acd", RANDOM: "#b0b000"}


def svg(title: str, curves: dict[str, list[float]]) -> str:
    """curves: policy → cumulative incremental value per yuan of expected spend at each day's end."""
    return line_chart(title, curves, "day of the campaign → incremental value per yuan spent (cumulative)", COLOURS)
