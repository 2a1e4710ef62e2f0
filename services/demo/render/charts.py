"""Inline SVG charts for the HTML report: no script, no fonts or images from the network.

Each chart is one `<svg class="chart" id="chart-…">` with a `<title>` (read by screen readers and shown as a
tooltip), sized in a viewBox so it scales with the page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

PALETTE = ("#2f6fb0", "#e0873a", "#3f9e5a", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
WIDTH = 720
LABEL_W = 170
ROW_H = 26
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans CJK SC',sans-serif"


def _svg(chart_id: str, title: str, height: int, body: list[str]) -> str:
    return (
        f'<svg class="chart" id="chart-{escape(chart_id)}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" style="max-width:{WIDTH}px;{FONT}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f'<text x="0" y="16" font-size="14" font-weight="600" fill="#222">{escape(title)}</text>'
        + "".join(body)
        + "</svg>"
    )


def _text(x: float, y: float, text: str, *, size: int = 12, anchor: str = "start", fill: str = "#333") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}">{escape(text)}</text>'
    )


def _legend(names: Sequence[str], y: float) -> list[str]:
    out, x = [], float(LABEL_W)
    for i, name in enumerate(names):
        out.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
        out.append(_text(x + 16, y, name, size=11))
        x += 24 + 7 * len(name)
    return out


def stacked_bars(chart_id: str, title: str, rows: Sequence[tuple[str, Sequence[float]]], series: Sequence[str]) -> str:
    """One horizontal bar per row, split by series; the bar's total is printed at its end."""
    top = max((sum(values) for _, values in rows), default=0) or 1
    span = WIDTH - LABEL_W - 60
    body = _legend(series, 40)
    for r, (label, values) in enumerate(rows):
        y = 56 + r * ROW_H
        body.append(_text(LABEL_W - 8, y + 14, label, anchor="end"))
        x = float(LABEL_W)
        for i, value in enumerate(values):
            w = span * value / top
            if w > 0:
                tip = f"{label}: {series[i]} {value:,.0f}"
                body.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{ROW_H - 8}" '
                    f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(tip)}</title></rect>'
                )
            x += w
        body.append(_text(x + 6, y + 14, f"{sum(values):,.0f}", size=11))
    return _svg(chart_id, title, 66 + len(rows) * ROW_H, body)


def bars(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, float]],
    label: Callable[[float], str] = lambda v: f"{v:,.0f}",
    color: str = PALETTE[0],
) -> str:
    top = max((v for _, v in rows), default=0) or 1
    span = WIDTH - LABEL_W - 90
    body = []
    for r, (name, value) in enumerate(rows):
        y = 32 + r * ROW_H
        w = max(0.0, span * value / top)
        body.append(_text(LABEL_W - 8, y + 14, name, anchor="end"))
        body.append(
            f'<rect x="{LABEL_W}" y="{y:.1f}" width="{w:.1f}" height="{ROW_H - 8}" fill="{color}">'
            f"<title>{escape(f'{name}: {label(value)}')}</title></rect>"
        )
        body.append(_text(LABEL_W + w + 6, y + 14, label(value), size=11))
    return _svg(chart_id, title, 42 + len(rows) * ROW_H, body)


def funnel(chart_id: str, title: str, stages: Sequence[tuple[str, int]], color: str = PALETTE[0]) -> str:
    """Centred bars narrowing stage by stage, each with its count and its share of the stage before."""
    top = max((n for _, n in stages), default=0) or 1
    span = WIDTH - LABEL_W - 100
    body = []
    for r, (name, n) in enumerate(stages):
        y = 32 + r * (ROW_H + 4)
        w = max(2.0, span * n / top)
        x = LABEL_W + (span - w) / 2
        body.append(_text(LABEL_W - 8, y + 15, name, anchor="end"))
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{ROW_H - 4}" rx="3" fill="{color}" '
            f'opacity="{1 - 0.12 * r:.2f}"><title>{escape(f"{name}: {n:,}")}</title></rect>'
        )
        step = f" · {n / stages[r - 1][1]:.0%}" if r and stages[r - 1][1] else ""
        body.append(_text(LABEL_W + span + 8, y + 15, f"{n:,}{step}", size=11))
    return _svg(chart_id, title, 40 + len(stages) * (ROW_H + 4), body)


def intervals(
    chart_id: str,
    title: str,
    rows: Sequence[tuple[str, dict[str, float] | None]],
    null: float = 1.0,
    label: Callable[[float], str] = lambda v: f"×{v:.2f}",
) -> str:
    """Point estimates with 95% confidence intervals on a log scale around the null value (1 for a ratio);
    rows without an estimate say so."""
    defined = [r for _, r in rows if r is not None]
    low = min([null, *(max(r["low"], 1e-3) for r in defined)])
    high = max([null, *(r["high"] for r in defined)])
    low, high = low / 1.15, high * 1.15
    span = WIDTH - LABEL_W - 150

    def x(v: float) -> float:
        return LABEL_W + span * (math.log(max(v, 1e-3)) - math.log(low)) / (math.log(high) - math.log(low))

    height = 58 + len(rows) * ROW_H
    body = [
        f'<line x1="{x(null):.1f}" y1="28" x2="{x(null):.1f}" y2="{height - 22}" stroke="#999" '
        'stroke-dasharray="4 3"/>',
        _text(x(null), height - 8, f"{label(null)} = no difference", size=11, anchor="middle", fill="#666"),
    ]
    for r, (name, est) in enumerate(rows):
        y = 40 + r * ROW_H
        body.append(_text(LABEL_W - 8, y + 4, name, anchor="end"))
        if est is None:
            body.append(_text(LABEL_W + 4, y + 4, "too little data yet", size=11, fill="#888"))
            continue
        color = PALETTE[2] if est["low"] > null else PALETTE[3] if est["high"] < null else PALETTE[0]
        body.append(
            f'<line x1="{x(est["low"]):.1f}" y1="{y:.1f}" x2="{x(est["high"]):.1f}" y2="{y:.1f}" '
            f'stroke="{color}" stroke-width="3"/>'
        )
        tip = f"{name}: {label(est['estimate'])} (95% CI {label(est['low'])} to {label(est['high'])})"
        body.append(
            f'<circle cx="{x(est["estimate"]):.1f}" cy="{y:.1f}" r="5" fill="{color}"><title>{escape(tip)}</title>'
            "</circle>"
        )
        body.append(
            _text(
                LABEL_W + span + 10,
                y + 4,
                f"{label(est['estimate'])} [{label(est['low'])}, {label(est['high'])}]",
                size=11,
            )
        )
    return _svg(chart_id, title, height, body)


def paired_bars(chart_id: str, title: str, rows: Sequence[tuple[str, float, float]], series: tuple[str, str]) -> str:
    """Two bars per row (e.g. members per level at the start and the end of the day)."""
    top = max((max(a, b) for _, a, b in rows), default=0) or 1
    span = WIDTH - LABEL_W - 70
    body = _legend(series, 40)
    for r, (name, a, b) in enumerate(rows):
        y = 52 + r * (ROW_H + 8)
        body.append(_text(LABEL_W - 8, y + 16, name, anchor="end"))
        for i, value in enumerate((a, b)):
            w = span * value / top
            yy = y + i * 13
            body.append(
                f'<rect x="{LABEL_W}" y="{yy:.1f}" width="{w:.1f}" height="11" fill="{PALETTE[i]}">'
                f"<title>{escape(f'{name}: {series[i]} {value:,.0f}')}</title></rect>"
            )
            body.append(_text(LABEL_W + w + 5, yy + 10, f"{value:,.0f}", size=10))
    return _svg(chart_id, title, 60 + len(rows) * (ROW_H + 8), body)
