"""The report as one self-contained HTML page: inline CSS and inline SVG charts, no script, nothing fetched."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from services.demo.render import charts
from services.demo.render.fmt import channel_row, count, lender_row, points_ci, ratio_ci, verdict, yuan

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans CJK SC',sans-serif;margin:0;color:#222;
background:#f6f7f9}
main{max-width:980px;margin:0 auto;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid #2f6fb0;padding-bottom:4px}
.sub{color:#555;margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card .v{font-size:22px;font-weight:650}.card .k{color:#555;font-size:12.5px}
section{background:#fff;border-radius:8px;padding:8px 18px 18px;margin-top:16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
table{border-collapse:collapse;width:100%;font-size:13px;margin:10px 0}
th,td{padding:4px 8px;border-bottom:1px solid #e5e5e5;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#f0f3f7;white-space:normal;vertical-align:bottom}
.note{color:#555;font-size:13px}.verdict{font-weight:600}
svg.chart{display:block;margin:12px 0}.scroll{overflow-x:auto}
"""


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _cards(h: dict[str, Any]) -> str:
    cards = [
        ("applicants routed", count(h["applicants"])),
        ("served in-house", count(h["served_in_house"])),
        ("leads sold to partners", count(h["leads_sold"])),
        ("value per pool lead", yuan(h["value_per_lead_fen"], 2)),
        (
            "coupons offered / claimed / redeemed",
            f"{h['coupons_offered']:,} / {h['coupons_claimed']:,} / {h['coupons_redeemed']:,}",
        ),
        ("coupon spend", yuan(h["coupon_spend_fen"])),
        ("payment-active uplift", ratio_ci(h["uplift_active_rate_ratio"]).split(" (")[0]),
        ("points issued today", count(h["points_issued"])),
        ("members who reached a new level", count(h["levels_reached"])),
        ("rights redeemed", count(h["rights_redeemed"])),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><div class="v">{escape(v)}</div><div class="k">{escape(k)}</div></div>'
            for k, v in cards
        )
        + "</div>"
    )


def _routing(r: dict[str, Any]) -> str:
    rows = [(c["channel"], (c["in_house"], c["partner_pool"], c["declined"])) for c in r["by_channel"]]
    mix = charts.stacked_bars(
        "routing-mix", "Where each channel's applicants went", rows, ("in-house", "partner pool", "declined")
    )
    value = charts.bars(
        "value-per-lead",
        "Partner revenue per pool lead, by channel",
        [(c["channel"], c["value_per_lead_fen"] or 0) for c in r["by_channel"]],
        label=lambda v: yuan(v, 2),
        color=charts.PALETTE[1],
    )
    table = _table(
        [
            "channel",
            "applicants",
            "in-house",
            "partner pool",
            "declined",
            "leads sold",
            "partner loans funded",
            "revenue",
            "value / pool lead",
        ],
        [channel_row(c) for c in r["by_channel"]],
    )
    ih = r["in_house"]
    tiers = ", ".join(f"{k} {v}" for k, v in r["by_tier"].items())
    declines = ", ".join(f"{k} {v}" for k, v in r["decline_reasons"].items()) or "none"
    return (
        "<section><h2>Routing: who went where, and what a lead was worth</h2>"
        f'<p class="note">{r["applicants"]:,} applicants; tiers {escape(tiers)}. '
        f"In-house travel loan: {ih['approved']:,} approved, {ih['drawn']:,} drawn ({yuan(ih['drawn_fen'])}). "
        f"Partner pool: {r['pool_leads']:,} leads, {r['leads_sold']:,} sold for {yuan(r['revenue_fen'])} "
        f"({yuan(r['value_per_lead_fen'], 2)} per pool lead). Declines: {escape(declines)}.</p>"
        f"{mix}{value}{table}</section>"
    )


def _partners(p: dict[str, Any]) -> str:
    lenders = p["lenders"]
    rows = [
        (
            x["partner_id"],
            (
                x["outcomes"].get("FUNDED", 0),
                x["accepted_leads"] - x["outcomes"].get("FUNDED", 0),
                x["deliveries"].get("REJECTED", 0),
            ),
        )
        for x in lenders
    ]
    chart = charts.stacked_bars(
        "partner-outcomes", "Partner deliveries and outcomes", rows, ("funded", "accepted, not funded", "post rejected")
    )
    table = _table(
        [
            "partner",
            "pings",
            "bid rate",
            "win rate",
            "posts",
            "accepted",
            "acceptance",
            "outcomes",
            "funded rate",
            "revenue",
            "p50 ping",
            "circuit",
        ],
        [lender_row(x, rates=True) for x in lenders],
    )
    return (
        "<section><h2>Partner lenders: deliveries and outcomes</h2>"
        f'<p class="note">The reference partner lenders bid on masked leads, took or refused the posts and reported '
        f"{p['postbacks']:,} outcomes back. A lender above the 24%/year cost ceiling is never pinged.</p>"
        f"{chart}{table}</section>"
    )


def _coupons(c: dict[str, Any]) -> str:
    u = c["uplift"]
    rows = [(x["campaign_id"], x["active_rate_ratio"]) for x in c["campaigns"]]
    rows.append(("all campaigns", u["active_rate_ratio"]))
    chart = charts.intervals("uplift", "Payment-active rate, treated vs holdout (95% CI)", rows)
    spend = charts.bars(
        "coupon-spend",
        "Coupon spend by campaign",
        [(x["campaign_id"], x["spend_fen"]) for x in c["campaigns"]],
        label=lambda v: yuan(v),
        color=charts.PALETTE[2],
    )
    table = _table(
        [
            "campaign",
            "offers",
            "claims",
            "redeemed",
            "spend",
            "GMV with coupon",
            "budget used today",
            "treated active",
            "holdout active",
            "uplift",
        ],
        [
            [
                f"{x['campaign_id']} {x['name']}",
                count(x["offers"]),
                count(x["claims"]),
                count(x["redemptions"]),
                yuan(x["spend_fen"]),
                yuan(x["gmv_fen"]),
                f"{yuan(x['today_committed_fen'])} of {yuan(x['budget_daily_fen'])}",
                f"{x['treated']['payment_active']}/{x['treated']['customers']}",
                f"{x['holdout']['payment_active']}/{x['holdout']['customers']}",
                ratio_ci(x["active_rate_ratio"]),
            ]
            for x in c["campaigns"]
        ],
    )
    not_offered = ", ".join(f"{k} {v}" for k, v in c["not_offered"].items()) or "none"
    return (
        "<section><h2>Coupons: spend and uplift against the holdout</h2>"
        f'<p class="note">{c["payment_moments"]:,} payment moments in {len(c["moments_by_scene"])} scenes: '
        f"{c['offered']:,} coupons offered, {c['claimed']:,} claimed, {c['redeemed']:,} redeemed, "
        f"for {yuan(c['spend_fen'])} of discounts ({yuan(c['spend_per_redemption_fen'], 2)} per redemption). "
        f"Not offered: {escape(not_offered)}.</p>"
        f'<p class="verdict">All campaigns: payment-active rate {escape(ratio_ci(u["active_rate_ratio"]))}, '
        f"{escape(points_ci(u['active_rate_difference']))} — {escape(verdict(u['active_rate_ratio']))}.</p>"
        f"{chart}{spend}{table}</section>"
    )


def _growth(g: dict[str, Any]) -> str:
    levels = charts.paired_bars(
        "levels",
        "Members per level",
        [(x["level"], x["members_at_start"], x["members"]) for x in g["levels"]],
        ("start of the day", "end of the day"),
    )
    activities = charts.bars(
        "activities",
        "Activities recorded today",
        sorted(g["activities"].items(), key=lambda kv: -kv[1]),
        color=charts.PALETTE[4],
    )
    rights = _table(
        ["right", "redemptions"],
        [[f"{x['right_id']} {x['name']}", count(x["redemptions"])] for x in g["rights_redeemed"]] or [["none", "0"]],
    )
    changes = ", ".join(f"{x['from']} → {x['to']} {x['members']}" for x in g["level_changes"]) or "none"
    return (
        "<section><h2>Growth: points issued, levels reached, rights redeemed</h2>"
        f'<p class="note">{g["members"]:,} members ({g["new_members"]:,} new today), {g["active_members"]:,} active. '
        f"Points issued today: {g['points_issued']:,} available plus {g['points_pending']:,} pending (loans in their "
        f"cooling-off period); growth value {g['growth_issued']:,}. Level changes: {escape(changes)}. Rights: "
        f"{sum(x['redemptions'] for x in g['rights_redeemed']):,} redeemed for {g['rights_points']:,} points.</p>"
        f"{levels}{activities}{rights}</section>"
    )


def _funnels(f: dict[str, Any]) -> str:
    titles = {"coupons": "Coupon funnel", "loans": "Loan funnel", "members": "Member funnel"}
    body = "".join(
        charts.funnel(
            f"funnel-{name}", titles.get(name, name), [(s["stage"], s["count"]) for s in stages], charts.PALETTE[i]
        )
        for i, (name, stages) in enumerate(f.items())
    )
    return f"<section><h2>The funnels</h2>{body}</section>"


def render(report: dict[str, Any]) -> str:
    d = report["demo"]
    notes = "".join(f"<li>{escape(n)}</li>" for n in report["notes"])
    checks = report["checks"]
    errors = ", ".join(f"{k} ×{v}" for k, v in checks["unexpected_errors"].items()) or "none"
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Skylane — a day of the product ({escape(d['date'])}, seed {d['seed']})</title>"
        f"<style>{CSS}</style></head><body><main>"
        f"<h1>Skylane — a day of the product</h1>"
        f'<p class="sub">{escape(d["date"])} ({escape(d["timezone"])}), seed {d["seed"]}: '
        f"{d['customers']:,} customers, "
        f"{d['applicants']:,} loan applicants, partner lenders {escape(', '.join(d['partner_lenders']))}.</p>"
        + _cards(report["headline"])
        + _routing(report["routing"])
        + _partners(report["partners"])
        + _coupons(report["coupons"])
        + _growth(report["growth"])
        + _funnels(report["funnels"])
        + f'<section><h2>About this run</h2><ul class="note">{notes}</ul>'
        f'<p class="note">Unexpected errors: {escape(errors)}; dead letters: {checks["dead_letters"]}.</p></section>'
        "</main></body></html>\n"
    )
