"""How figures read in both renderings."""

from __future__ import annotations

from typing import Any


def yuan(fen: float | None, digits: int = 0) -> str:
    return "-" if fen is None else f"¥{fen / 100:,.{digits}f}"


def pct(share: float | None, digits: int = 1) -> str:
    return "-" if share is None else f"{share:.{digits}%}"


def count(n: float | None) -> str:
    return "-" if n is None else f"{n:,.0f}"


def ratio_ci(estimate: dict[str, Any] | None) -> str:
    if estimate is None:
        return "too little data yet"
    return f"×{estimate['estimate']:.2f} (95% CI ×{estimate['low']:.2f} to ×{estimate['high']:.2f})"


def points_ci(estimate: dict[str, Any] | None) -> str:
    if estimate is None:
        return "too little data yet"
    e, lo, hi = (estimate[k] * 100 for k in ("estimate", "low", "high"))
    return f"{e:+.1f} pts (95% CI {lo:+.1f} to {hi:+.1f})"


def verdict(estimate: dict[str, Any] | None) -> str:
    """One sentence on whether the uplift is established."""
    if estimate is None:
        return "not enough holdout customers have paid yet to measure the uplift"
    if estimate["low"] > 1:
        return "coupons raised the payment-active rate beyond doubt (the 95% interval is above ×1)"
    if estimate["high"] < 1:
        return "treated customers paid less than the holdout (the 95% interval is below ×1)"
    return "the uplift is not yet established: the 95% interval still includes ×1 (more days narrow it)"


def outcomes(row: dict[str, int]) -> str:
    return ", ".join(f"{k.lower()} {v:,}" for k, v in row.items()) or "-"


def channel_row(c: dict[str, Any]) -> list[str]:
    """One channel of the routing table: applicants, where they went, and what the pool's leads earned."""
    return [
        c["channel"],
        count(c["applicants"]),
        count(c["in_house"]),
        count(c["partner_pool"]),
        count(c["declined"]),
        count(c["leads_sold"]),
        count(c["loans_funded"]),
        yuan(c["revenue_fen"]),
        yuan(c["value_per_lead_fen"], 2),
    ]


def lender_row(x: dict[str, Any], *, rates: bool) -> list[str]:
    """One partner lender's deliveries; `rates` adds its post acceptance and funded rates."""
    accepted = [count(x["accepted_leads"]), pct(x["post_acceptance_rate"])] if rates else [count(x["accepted_leads"])]
    outcome = [outcomes(x["outcomes"]), pct(x["funded_rate"])] if rates else [outcomes(x["outcomes"])]
    return [
        x["partner_id"],
        count(x["pings"]),
        pct(x["bid_rate"]),
        pct(x["win_rate"]),
        count(x["posts"]),
        *accepted,
        *outcome,
        yuan(x["revenue_fen"]),
        f"{x['p50_latency_ms']:.0f} ms",
        x["circuit"],
    ]
