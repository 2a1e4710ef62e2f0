"""A hand-written SVG line chart (no plotting dependency): cumulative incremental value by day."""

from __future__ import annotations

from html import escape

from services.rewards.sim.engine import SimulationReport

_COLOURS = {
    "no_coupon": "#999999",
    "flat_coupon": "#e07b39",
    "random_arm": "#b0b000",
    "greedy_uplift_per_cost": "#6a5acd",
    "learned": "#1f77b4",
}


def svg(report: SimulationReport, width: int = 760, height: int = 420) -> str:
    left, right, top, bottom = 70, 200, 40, 50
    days = max(len(r.daily_value) for r in report.results.values())
    top_value = max([report.oracle.value, *(max(r.daily_value or [0]) for r in report.results.values())]) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(day: float) -> float:
        return left + plot_w * day / max(days, 1)

    def y(value: float) -> float:
        return top + plot_h * (1 - value / top_value)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="12">',
        f'<text x="{left}" y="22" font-size="14">{escape(report.scenario)}: cumulative incremental value (¥)</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
    ]
    for i in range(5):
        v = top_value * i / 4
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v / 100:,.0f}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">day</text>')
    # Oracle (full budget, spread evenly over the days) as a dashed reference line.
    parts.append(
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(days)}" y2="{y(report.oracle.value):.1f}" stroke="#2ca02c" '
        'stroke-dasharray="6,4"/>'
    )
    legend = [("oracle (LP bound)", "#2ca02c")]
    for name, r in report.results.items():
        colour = _COLOURS.get(name, "#000000")
        points = " ".join(f"{x(d + 1):.1f},{y(v):.1f}" for d, v in enumerate(r.daily_value))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{x(0)},{y(0)} {points}"/>')
        legend.append((name, colour))
    for i, (name, colour) in enumerate(legend):
        ly = top + 18 * i
        parts.append(f'<rect x="{left + plot_w + 16}" y="{ly}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{left + plot_w + 34}" y="{ly + 10}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
