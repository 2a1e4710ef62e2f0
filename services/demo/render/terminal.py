"""The report in the terminal: headline figures, then one short section per part of the product."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.rule import Rule

from services.common.cli_client import new_table, print_table
from services.demo.render.fmt import channel_row, count, lender_row, pct, points_ci, ratio_ci, verdict, yuan

BAR = 28


def _bar(n: float, top: float) -> str:
    return "█" * max(1 if n else 0, round(BAR * n / top)) if top else ""


def render(console: Console, report: dict[str, Any]) -> None:
    d, h = report["demo"], report["headline"]
    console.print(Rule(f"Skylane — a day of the product: {d['date']} ({d['timezone']}), seed {d['seed']}"))
    headline = new_table("", "", left=2)
    headline.show_header = False
    for label, value in (
        ("applicants routed", count(h["applicants"])),
        ("served in-house", count(h["served_in_house"])),
        ("leads sold to partners", count(h["leads_sold"])),
        ("partner value per pool lead", yuan(h["value_per_lead_fen"], 2)),
        (
            "coupons offered / claimed / redeemed",
            f"{h['coupons_offered']:,} / {h['coupons_claimed']:,} / {h['coupons_redeemed']:,}",
        ),
        ("coupon spend", yuan(h["coupon_spend_fen"])),
        ("payment-active uplift vs holdout", ratio_ci(h["uplift_active_rate_ratio"])),
        ("points issued today", count(h["points_issued"])),
        ("members who reached a new level", count(h["levels_reached"])),
        ("rights redeemed", count(h["rights_redeemed"])),
    ):
        headline.add_row(label, value)
    print_table(console, headline)
    _routing(console, report["routing"], report["partners"])
    _coupons(console, report["coupons"])
    _growth(console, report["growth"])
    _funnels(console, report["funnels"])
    errors = report["checks"]["unexpected_errors"]
    if errors:
        console.print("unexpected errors: " + ", ".join(f"{k} ×{v}" for k, v in errors.items()))


def _routing(console: Console, r: dict[str, Any], p: dict[str, Any]) -> None:
    console.print(Rule("routing and partner lenders"))
    table = new_table(
        "channel", "applicants", "in-house", "pool", "declined", "sold", "funded", "revenue", "value/lead"
    )
    for c in r["by_channel"]:
        table.add_row(*channel_row(c))
    print_table(console, table)
    ih = r["in_house"]
    console.print(
        f"in-house travel loan: {ih['approved']:,} approved, {ih['drawn']:,} drawn ({yuan(ih['drawn_fen'])}); "
        f"partner pool: {r['pool_leads']:,} leads, {r['leads_sold']:,} sold, "
        f"{yuan(r['value_per_lead_fen'], 2)} per lead"
    )
    lenders = new_table(
        "partner", "pings", "bid", "won", "posts", "accepted", "outcomes", "revenue", "p50 ping", "circuit"
    )
    lenders.columns[6].justify = "left"
    for x in p["lenders"]:
        lenders.add_row(*lender_row(x, rates=False))
    print_table(console, lenders)


def _coupons(console: Console, c: dict[str, Any]) -> None:
    console.print(Rule("coupons"))
    table = new_table(
        "campaign", "offers", "claims", "redeemed", "spend", "GMV", "treated active", "holdout active", "uplift"
    )
    table.columns[-1].justify = "left"
    for x in c["campaigns"]:
        table.add_row(
            x["campaign_id"],
            count(x["offers"]),
            count(x["claims"]),
            count(x["redemptions"]),
            yuan(x["spend_fen"]),
            yuan(x["gmv_fen"]),
            f"{x['treated']['payment_active']}/{x['treated']['customers']}",
            f"{x['holdout']['payment_active']}/{x['holdout']['customers']}",
            ratio_ci(x["active_rate_ratio"]),
        )
    print_table(console, table)
    u = c["uplift"]
    console.print(
        f"all campaigns: payment-active {pct(u['treated']['payment_active_rate'])} treated vs "
        f"{pct(u['holdout']['payment_active_rate'])} holdout: {ratio_ci(u['active_rate_ratio'])}, "
        f"{points_ci(u['active_rate_difference'])}"
    )
    console.print(f"  {verdict(u['active_rate_ratio'])}")


def _growth(console: Console, g: dict[str, Any]) -> None:
    console.print(Rule("growth"))
    console.print(
        f"{g['members']:,} members ({g['new_members']:,} new), {g['active_members']:,} active today; points issued "
        f"{g['points_issued']:,} (+{g['points_pending']:,} pending), growth value {g['growth_issued']:,}"
    )
    levels = new_table("level", "start of day", "end of day", left=1)
    for x in g["levels"]:
        levels.add_row(f"{x['level']} {x['name']}", count(x["members_at_start"]), count(x["members"]))
    print_table(console, levels)
    rights = ", ".join(f"{x['name']} ({x['right_id']}) {x['redemptions']}" for x in g["rights_redeemed"]) or "none"
    console.print(f"rights redeemed: {rights}")


def _funnels(console: Console, f: dict[str, Any]) -> None:
    console.print(Rule("funnels"))
    for name, stages in f.items():
        top = max((s["count"] for s in stages), default=0)
        table = new_table(name, "", "", left=2)
        table.show_header = True
        for i, s in enumerate(stages):
            before = stages[i - 1]["count"] if i else 0
            step = f"{s['count'] / before:.0%}" if i and before else ""
            table.add_row(s["stage"], _bar(s["count"], top), f"{s['count']:,} {step}".strip())
        print_table(console, table)
