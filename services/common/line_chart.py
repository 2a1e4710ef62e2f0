"""A hand-written SVG line chart (no plotting dependency) for the simulators' learning curves."""

from __future__ import annotations

from html import escape

PALETTE = ("#1f77b4", "#6a5acd", "#e07b39", "#999999", "#b0b000", "#8c564b", "#e377c2")


def svg(
    title: str,
    curves: dict[str, list[float]],
    x_label: str,
    colours: dict[str, str] | None = None,
    dashed: frozenset[str] = frozenset(),
    width: int = 780,
    height: int = 420,
) -> str:
    """curves: name → values in successive equal slices of the run, drawn left to right."""
    left, right, top, bottom = 60, 210, 40, 50
    points = max((len(c) for c in curves.values()), default=1)
    values = [v for c in curves.values() for v in c]
    top_value = (max(values) if values else 1.0) * 1.05 or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(i: float) -> float:
        return left + plot_w * i / max(points, 1)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / top_value)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
        'font-size="12">',
        f'<text x="{left}" y="22" font-size="14">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>',
    ]
    for i in range(5):
        v = top_value * i / 4
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,.1f}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">{escape(x_label)}</text>')
    for i, (name, curve) in enumerate(curves.items()):
        colour = (colours or {}).get(name, PALETTE[i % len(PALETTE)])
        dash = ' stroke-dasharray="6,4"' if name in dashed else ""
        pts = " ".join(f"{x(j + 0.5):.1f},{y(v):.1f}" for j, v in enumerate(curve))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{pts}"/>')
        ly = top + 18 * i
        parts.append(f'<rect x="{left + plot_w + 16}" y="{ly}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{left + plot_w + 34}" y="{ly + 10}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
