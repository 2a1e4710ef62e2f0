"""The learning curve of ``skylane router simulate --svg``: value per lead over the run, each policy."""

from __future__ import annotations

from services.common.line_chart import svg as line_chart

COLOURS = {
    "upper bound": "#2ca02c",
    "learned": "#1f77b4",
    "best static (hindsight)": "#6a5acd",
    "configured waterfall": "#e07b39",
    "highest bid": "#999999",
}


def svg(title: str, curves: dict[str, list[float]]) -> str:
    """curves: policy → value per lead (yuan) in successive equal slices of the run (mean over seeds)."""
    x_label = "share of the run (leads in arrival order) → value per lead, ¥"
    return line_chart(title, curves, x_label, COLOURS, dashed=frozenset({"upper bound"}))
