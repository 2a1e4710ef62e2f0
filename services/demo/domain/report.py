"""The day's report, as a manager reads it: figures from the services' own reports and ops views, and from
what the demo saw them answer. Pure: the service layer collects the inputs, this module shapes them.

The document's keys are stable (`skylane demo --json`): money in fen (`_fen`), shares as fractions,
intervals as {estimate, low, high} or null when there is too little data.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from services.demo.domain import stats
from services.demo.domain.tally import Tally

DESTINATIONS = ("IN_HOUSE", "PARTNER_POOL", "DECLINED")


@dataclass
class Inputs:
    meta: dict[str, Any]
    tally: Tally
    traces: list[dict[str, Any]]  # one per pool lead (skylane router partners trace --json)
    partner_rows: list[dict[str, Any]]  # skylane router partners report --json
    sims: dict[str, dict[str, int]]  # partner id → what the reference lender saw
    routing: dict[str, Any]  # skylane router report --json
    campaigns: list[dict[str, Any]]  # skylane rewards report --json
    campaign_names: dict[str, str]
    level_order: list[str]  # growth level ids, lowest first
    level_names: dict[str, str]
    right_names: dict[str, str]
    dead_letters: int = 0
    notes: list[str] = field(default_factory=list)


def build(inputs: Inputs) -> dict[str, Any]:
    routing = _routing(inputs)
    partners = _partners(inputs)
    coupons = _coupons(inputs)
    growth = _growth(inputs)
    report = {
        "demo": inputs.meta,
        "headline": _headline(routing, coupons, growth),
        "routing": routing,
        "partners": partners,
        "coupons": coupons,
        "growth": growth,
        "funnels": _funnels(inputs, routing, coupons, growth),
        "checks": {
            "unexpected_errors": dict(sorted(inputs.tally.errors.items())),
            "dead_letters": inputs.dead_letters,
        },
        "notes": inputs.notes,
    }
    return report


def _lead_revenue(trace: dict[str, Any]) -> int:
    """Price of the delivery the partner accepted (0 when no partner took the lead)."""
    return sum(d["price_fen"] for d in trace["deliveries"] if d["status"] == "DELIVERED")


def _routing(inputs: Inputs) -> dict[str, Any]:
    t = inputs.tally
    traces = {tr["lead_id"]: tr for tr in inputs.traces}
    channels: dict[str, dict[str, Any]] = {}
    for (channel, destination), n in sorted(t.by_channel.items()):
        row = channels.setdefault(
            channel,
            {"channel": channel, "applicants": 0, **{d.lower(): 0 for d in DESTINATIONS}, "leads_sold": 0,
             "loans_funded": 0, "revenue_fen": 0},
        )  # fmt: skip
        row["applicants"] += n
        row[destination.lower()] += n
    for lead in t.leads:
        trace = traces.get(lead.lead_id)
        if trace is None or lead.channel not in channels:
            continue
        row = channels[lead.channel]
        revenue = _lead_revenue(trace)
        row["leads_sold"] += 1 if revenue else 0
        row["revenue_fen"] += revenue
        row["loans_funded"] += 1 if trace["outcome"] == "FUNDED" else 0
    for row in channels.values():
        row["value_per_lead_fen"] = row["revenue_fen"] / row["partner_pool"] if row["partner_pool"] else None
    pool = sum(r["partner_pool"] for r in channels.values())
    revenue = sum(r["revenue_fen"] for r in channels.values())
    capacity = inputs.routing.get("capacity") or []
    return {
        "applicants": t.applicants,
        "sticky_repeats": t.sticky,
        "by_destination": {d: sum(r[d.lower()] for r in channels.values()) for d in DESTINATIONS},
        "by_tier": dict(sorted(t.by_tier.items())),
        "by_channel": sorted(channels.values(), key=lambda r: -r["applicants"]),
        "decline_reasons": dict(t.decline_reasons.most_common()),
        "pool_leads": pool,
        "leads_sold": sum(r["leads_sold"] for r in channels.values()),
        "revenue_fen": revenue,
        "value_per_lead_fen": revenue / pool if pool else None,
        "in_house": {
            "approved": len(t.in_house),
            "drawn": t.drawn,
            "drawn_fen": t.drawn_fen,
            "capacity": capacity,
        },
        "service_report_total": inputs.routing.get("total"),
    }


def _partners(inputs: Inputs) -> dict[str, Any]:
    outcomes: dict[str, Counter[str]] = {}
    deliveries: dict[str, Counter[str]] = {}
    revenue: Counter[str] = Counter()
    for trace in inputs.traces:
        for d in trace["deliveries"]:
            deliveries.setdefault(d["partner_id"], Counter())[d["status"]] += 1
            if d["status"] == "DELIVERED":
                revenue[d["partner_id"]] += d["price_fen"]
        if trace["partner_id"] and trace["outcome"]:
            outcomes.setdefault(trace["partner_id"], Counter())[trace["outcome"]] += 1
    rows = []
    for p in inputs.partner_rows:
        pid = p["partner_id"]
        sim = inputs.sims.get(pid, {})
        rows.append(
            {
                "partner_id": pid,
                "pings": p["pings"],
                "bid_rate": p["bid_rate"],
                "win_rate": p["win_rate"],
                "posts": sim.get("posts", 0),
                "deliveries": dict(sorted(deliveries.get(pid, Counter()).items())),
                "accepted_leads": p["accepted_leads"],
                "post_acceptance_rate": p["post_acceptance_rate"],
                "outcomes": dict(sorted(outcomes.get(pid, Counter()).items())),
                "funded_rate": p["funded_rate"],
                "revenue_fen": revenue[pid],
                "p50_latency_ms": p["p50_latency_ms"],
                "circuit": p["circuit"],
                "accept_estimate": p["accept_estimate"],
                "fund_estimate": p["fund_estimate"],
            }
        )
    return {"lenders": rows, "postbacks": sum(s.get("postbacks", 0) for s in inputs.sims.values())}


def _coupons(inputs: Inputs) -> dict[str, Any]:
    t = inputs.tally
    rows = []
    pooled = {"treated": [0, 0], "holdout": [0, 0]}
    for c in inputs.campaigns:
        u = c["uplift"]
        for group in ("treated", "holdout"):
            pooled[group][0] += u[group]["payment_active"]
            pooled[group][1] += u[group]["customers"]
        rows.append(
            {
                "campaign_id": c["campaign_id"],
                "name": inputs.campaign_names.get(c["campaign_id"], c["campaign_id"]),
                **{k: c["totals"][k] for k in ("offers", "claims", "redemptions")},
                "spend_fen": c["budget"]["spent_fen"],
                "reserved_fen": c["budget"]["reserved_fen"],
                "gmv_fen": c["totals"]["gmv_fen"],
                "budget_total_fen": c["budget"]["total_fen"],
                "budget_daily_fen": c["budget"]["daily_fen"],
                "today_committed_fen": c["budget"]["today_committed_fen"],
                "lambda": c["lambda"],
                "arms": [a for a in c["funnel"] if a["arm_id"]],
                "treated": u["treated"],
                "holdout": u["holdout"],
                "active_rate_ratio": u["active_rate_ratio"],
                "active_rate_difference": u["active_rate_difference"],
                "value_difference_fen": u["value_difference_fen"],
            }
        )
    (ta, tn), (ca, cn) = pooled["treated"], pooled["holdout"]
    spend = sum(r["spend_fen"] for r in rows)
    return {
        "payment_moments": sum(t.moments.values()),
        "moments_by_scene": dict(sorted(t.moments.items())),
        "decisions": dict(sorted(t.outcomes.items())),
        "not_offered": dict(t.not_offered.most_common()),
        "offered": t.outcomes.get("OFFERED", 0),
        "claimed": t.claims,
        "claim_refusals": dict(t.claim_refusals.most_common()),
        "redeemed": t.redeemed,
        "redeem_refusals": dict(t.redeem_refusals.most_common()),
        "spend_fen": spend,
        "reserved_fen": sum(r["reserved_fen"] for r in rows),
        "coupon_gmv_fen": t.coupon_gmv_fen,
        "payments_without_coupon": t.plain_payments,
        "campaigns": rows,
        "uplift": {
            "treated": {"customers": tn, "payment_active": ta, "payment_active_rate": stats.share(ta, tn)},
            "holdout": {"customers": cn, "payment_active": ca, "payment_active_rate": stats.share(ca, cn)},
            "active_rate_ratio": stats.rate_ratio(ta, tn, ca, cn),
            "active_rate_difference": stats.rate_difference(ta, tn, ca, cn),
        },
        "spend_per_redemption_fen": spend / t.redeemed if t.redeemed else None,
    }


def _growth(inputs: Inputs) -> dict[str, Any]:
    t = inputs.tally
    order = {level: i for i, level in enumerate(inputs.level_order)}
    levels = Counter(t.levels.values())
    at_start = Counter(t.levels_at_start.values())
    return {
        "members": len(t.levels),
        "new_members": t.new_members,
        "active_members": len(t.active_members),
        "earning_members": len(t.earning_members),
        "activities": dict(sorted(t.activities.items())),
        "history_activities": t.history_activities,
        "points_issued": t.points_issued,
        "points_pending": t.points_pending,
        "growth_issued": t.growth_issued,
        "awards_by_kind": dict(sorted(t.award_kinds.items())),
        "levels": [
            {
                "level": level,
                "name": inputs.level_names.get(level, level),
                "members": levels.get(level, 0),
                "members_at_start": at_start.get(level, 0),
            }
            for level in sorted(set(inputs.level_order) | set(levels), key=lambda lv: order.get(lv, 99))
        ],
        "level_changes": [
            {"from": a, "to": b, "members": n} for (a, b), n in sorted(t.level_ups.items(), key=lambda kv: -kv[1])
        ],
        "levels_reached": sum(n for (a, b), n in t.level_ups.items() if order.get(b, 0) > order.get(a, 0)),
        "rights_redeemed": [
            {"right_id": r, "name": inputs.right_names.get(r, r), "redemptions": n}
            for r, n in t.rights_redeemed.most_common()
        ],
        "rights_points": t.rights_points,
        "rights_refusals": dict(t.rights_refusals.most_common()),
    }


def _headline(routing: dict[str, Any], coupons: dict[str, Any], growth: dict[str, Any]) -> dict[str, Any]:
    return {
        "applicants": routing["applicants"],
        "served_in_house": routing["by_destination"]["IN_HOUSE"],
        "leads_sold": routing["leads_sold"],
        "value_per_lead_fen": routing["value_per_lead_fen"],
        "coupons_offered": coupons["offered"],
        "coupons_claimed": coupons["claimed"],
        "coupons_redeemed": coupons["redeemed"],
        "coupon_spend_fen": coupons["spend_fen"],
        "uplift_active_rate_ratio": coupons["uplift"]["active_rate_ratio"],
        "points_issued": growth["points_issued"],
        "levels_reached": growth["levels_reached"],
        "rights_redeemed": sum(r["redemptions"] for r in growth["rights_redeemed"]),
    }


def _funnels(
    inputs: Inputs, routing: dict[str, Any], coupons: dict[str, Any], growth: dict[str, Any]
) -> dict[str, Any]:
    t = inputs.tally
    funded = sum(1 for tr in inputs.traces if tr["outcome"] == "FUNDED")
    served = routing["by_destination"]["IN_HOUSE"] + routing["by_destination"]["PARTNER_POOL"]

    def stages(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
        return [{"stage": name, "count": n} for name, n in pairs]

    return {
        "coupons": stages(
            ("payment moments", coupons["payment_moments"]),
            ("coupon offered", coupons["offered"]),
            ("coupon claimed", coupons["claimed"]),
            ("paid with the coupon", coupons["redeemed"]),
        ),
        "loans": stages(
            ("applicants", routing["applicants"]),
            ("placed", served),
            ("loan drawn / lead sold", t.drawn + routing["leads_sold"]),
            ("loan drawn / funded", t.drawn + funded),
        ),
        "members": stages(
            ("members", growth["members"]),
            ("active today", growth["active_members"]),
            ("earned points today", growth["earning_members"]),
            ("redeemed a right", len(t.rights_members)),
        ),
    }
