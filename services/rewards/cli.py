"""`skylane rewards ...` commands: campaign reports, the offline simulator and the Admin commands."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

import grpc
import yaml
from rich.progress import Progress
from rich.table import Table

from services.common.cli_client import (
    PipeSafeConsole,
    add_json_flag,
    make_console,
    new_table,
    or_none,
    percent,
    positive_int,
    print_json,
    print_table,
    register_admin_commands,
    run_call,
    yuan,
)
from services.common.config import ConfigError
from services.rewards import journeys_cli
from skylane.common.v1 import admin_pb2, admin_pb2_grpc
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc

DEFAULT_ADDRESS = "127.0.0.1:50053"
TIMEOUT_S = 30.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rewards = commands.add_parser("rewards", help="rewards service tools: campaign reports, simulator, config")
    sub = rewards.add_subparsers(dest="rewards_command", required=True, metavar="ACTION")

    report = sub.add_parser(
        "report",
        help="per campaign: budget used, offers → claims → redemptions per arm and segment, uplift vs the holdout",
        description="Spend, reservations and today's committed budget against the budget; the funnel per arm and "
        "segment; payment-active rate and value per customer of the treated group against the holdout, as ratios "
        "and differences with 95% confidence intervals.",
    )
    report.add_argument("campaigns", nargs="*", metavar="CAMPAIGN", help="campaign ids (default: every campaign)")
    report.add_argument("--address", default=DEFAULT_ADDRESS, help=f"rewards gRPC address (default {DEFAULT_ADDRESS})")
    report.add_argument("--by-segment", action="store_true", help="funnel rows per arm × segment (default: per arm)")
    add_json_flag(report)
    report.set_defaults(handler=_report)

    sim = sub.add_parser(
        "simulate",
        help="run the real allocation policy, baselines and the LP oracle on a scenario",
        description="Simulate a campaign through the real allocation code, with claims reserving budget until "
        "redemption or expiry, and compare it with the run's LP oracle, the best single coupon amount found in "
        "hindsight and a random arm. Scenario format: docs/rewards-decisions.md.",
    )
    sim.add_argument("--scenario", required=True, type=Path, help="scenario YAML file")
    sim.add_argument(
        "--seeds", type=positive_int, default=1, help="run this many seeds (from the scenario's) and summarise"
    )
    sim.add_argument("--svg", "--chart", dest="svg", type=Path, default=None, help="write the learning curve (SVG)")
    sim.add_argument("--seed", type=int, default=None, help="override the scenario's first seed")
    add_json_flag(sim, "print the simulation's results as one JSON document instead of a table")
    sim.set_defaults(handler=_simulate)

    journeys_cli.register(sub, DEFAULT_ADDRESS)
    register_admin_commands(sub, "rewards", DEFAULT_ADDRESS)


# --- rewards report --------------------------------------------------------------------------------------


def _interval(i: rewards_pb2.Interval) -> dict[str, float] | None:
    return {"estimate": i.estimate, "low": i.low, "high": i.high} if i.defined else None


def _group(g: rewards_pb2.GroupOutcome) -> dict[str, Any]:
    return {
        "customers": g.customers,
        "payment_active": g.payment_active,
        "payment_active_rate": g.payment_active_rate,
        "value_per_customer_fen": g.value_per_customer_fen,
    }


def _funnel(rows: Any, by_segment: bool) -> list[dict[str, Any]]:
    """Funnel rows per (arm, segment), or summed per arm; the holdout's row has arm_id null."""
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r.arm_id, r.segment if by_segment else "")
        cell = cells.setdefault(
            key,
            {"arm_id": or_none(r.arm_id), "offers": 0, "claims": 0, "redemptions": 0, "gmv_fen": 0, "spend_fen": 0},
        )
        if by_segment:
            cell["segment"] = r.segment
        cell["offers"] += r.offers
        cell["claims"] += r.claims
        cell["redemptions"] += r.redemptions
        cell["gmv_fen"] += r.gmv.fen
        cell["spend_fen"] += r.spend.fen
    return [cells[k] for k in sorted(cells)]


def campaign_document(r: rewards_pb2.CampaignReport, by_segment: bool = False) -> dict[str, Any]:
    funnel = _funnel(r.funnel, by_segment)
    totals = {k: sum(row[k] for row in funnel) for k in ("offers", "claims", "redemptions", "gmv_fen", "spend_fen")}
    u = r.uplift
    return {
        "campaign_id": r.campaign_id,
        "config_version": r.config_version,
        "lambda": getattr(r, "lambda"),
        "budget": {
            "total_fen": r.budget_total.fen,
            "daily_fen": r.budget_daily.fen,
            "spent_fen": r.spent.fen,
            "reserved_fen": r.reserved.fen,
            "today_committed_fen": r.today_committed.fen,
            "used": (r.spent.fen + r.reserved.fen) / r.budget_total.fen if r.budget_total.fen else None,
        },
        "totals": totals,
        "funnel": funnel,
        "uplift": {
            "treated": _group(u.treated),
            "holdout": _group(u.holdout),
            "active_rate_ratio": _interval(u.active_rate_ratio),
            "active_rate_difference": _interval(u.active_rate_difference),
            "value_ratio": _interval(u.value_ratio),
            "value_difference_fen": _interval(u.value_difference_fen),
        },
    }


def _campaign_ids(channel: grpc.Channel) -> list[str]:
    """Every campaign of the running config, in config order."""
    info = admin_pb2_grpc.AdminStub(channel).GetConfig(admin_pb2.GetConfigRequest(), timeout=TIMEOUT_S)
    document = yaml.safe_load(info.effective_yaml) or {}
    return [str(c["id"]) for c in document.get("campaigns") or [] if isinstance(c, dict) and "id" in c]


def _report(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        stub = rewards_pb2_grpc.RewardsServiceStub(channel)
        ids = args.campaigns or _campaign_ids(channel)
        reports = [
            stub.GetCampaignReport(rewards_pb2.GetCampaignReportRequest(campaign_id=c), timeout=TIMEOUT_S) for c in ids
        ]
        documents = [campaign_document(r, args.by_segment) for r in reports]
        if args.json:
            print_json({"campaigns": documents})
            return
        console = make_console()
        _print_budgets(console, documents)
        for doc in documents:
            _print_campaign(console, doc, args.by_segment)

    return run_call(args.address, call)


def _ci(interval: dict[str, float] | None, form: str) -> str:
    if interval is None:
        return "- (too little data)"
    e, lo, hi = interval["estimate"], interval["low"], interval["high"]
    if form == "ratio":
        return f"×{e:.2f} (95% CI ×{lo:.2f} to ×{hi:.2f})"
    if form == "points":
        return f"{e * 100:+.1f} pts (95% CI {lo * 100:+.1f} to {hi * 100:+.1f})"
    return f"{yuan(e)} (95% CI {yuan(lo)} to {yuan(hi)})"


def _print_budgets(console: PipeSafeConsole, documents: list[dict[str, Any]]) -> None:
    table = new_table(
        "campaign", "budget", "spent", "reserved", "used", "today", "daily budget", "offers", "claims", "redeemed", "λ"
    )
    for d in documents:
        b, t = d["budget"], d["totals"]
        table.add_row(
            d["campaign_id"],
            yuan(b["total_fen"]),
            yuan(b["spent_fen"]),
            yuan(b["reserved_fen"]),
            percent(b["used"]),
            yuan(b["today_committed_fen"]),
            yuan(b["daily_fen"]),
            f"{t['offers']:,}",
            f"{t['claims']:,}",
            f"{t['redemptions']:,}",
            f"{d['lambda']:.3f}",
        )
    print_table(console, table)


def _print_campaign(console: PipeSafeConsole, d: dict[str, Any], by_segment: bool) -> None:
    columns = ["arm", *(["segment"] if by_segment else []), "offers", "claims", "redeemed", "GMV", "spend"]
    funnel = new_table(
        *columns, left=2 if by_segment else 1, title=f"{d['campaign_id']} (config version {d['config_version']})"
    )
    for row in d["funnel"]:
        cells = [row["arm_id"] or "holdout", *([row["segment"]] if by_segment else [])]
        cells += [f"{row['offers']:,}", f"{row['claims']:,}", f"{row['redemptions']:,}"]
        funnel.add_row(*cells, yuan(row["gmv_fen"]), yuan(row["spend_fen"]))
    print_table(console, funnel)
    u = d["uplift"]
    groups = new_table("group", "customers", "payment-active", "rate", "value / customer")
    for name in ("treated", "holdout"):
        g = u[name]
        groups.add_row(
            name,
            f"{g['customers']:,}",
            f"{g['payment_active']:,}",
            percent(g["payment_active_rate"]),
            yuan(g["value_per_customer_fen"]),
        )
    print_table(console, groups)
    print(
        f"  payment-active rate   {_ci(u['active_rate_ratio'], 'ratio')}; {_ci(u['active_rate_difference'], 'points')}"
    )
    print(f"  value per customer    {_ci(u['value_ratio'], 'ratio')}; {_ci(u['value_difference_fen'], 'money')}")


# --- rewards simulate ------------------------------------------------------------------------------------


def _cell(x: float | None) -> str:
    # n/a: a ratio to a yardstick that gained nothing on every seed (the seeds' yuan figures follow the table)
    return "n/a" if x is None else f"{x:.3f}"


def _simulate(args: argparse.Namespace) -> int:
    from services.rewards.sim.chart import svg
    from services.rewards.sim.engine import runs_per_seed
    from services.rewards.sim.scenario import load_scenario
    from services.rewards.sim.seeds import MEASURES, document, run_seeds

    console = PipeSafeConsole()
    if importlib.util.find_spec("scipy") is None:
        print("the simulator's oracle needs SciPy: pip install 'skylane[sim]'", file=sys.stderr)
        return 2
    try:
        scenario = load_scenario(args.scenario)
    except ConfigError as exc:
        print(f"invalid scenario {exc.source}:\n  " + "\n  ".join(exc.errors), file=sys.stderr)
        return 2
    if args.seed is not None:
        scenario = scenario.model_copy(update={"seed": args.seed})
    with Progress(console=console, transient=True, disable=args.json) as progress:
        task = progress.add_task("simulating", total=args.seeds * runs_per_seed(scenario))
        summary = run_seeds(scenario, args.seeds, tick=lambda: progress.advance(task))
    if args.svg:
        title = f"{scenario.name}: value per yuan, mean of {args.seeds} seeds"
        args.svg.write_text(svg(title, summary.curves()), encoding="utf-8")
    if args.json:
        print_json({"scenario_file": str(args.scenario), **document(summary)})
        return 0
    table = Table(
        title=f"{scenario.name}: {scenario.days} days, ~{scenario.arrivals_per_day:,} arrivals a day, budget "
        f"¥{scenario.budget.total_fen / 100:,.0f} (¥{scenario.budget.daily_fen / 100:,.0f} a day), "
        f"seeds {summary.seeds[0]}–{summary.seeds[-1]}"
    )
    for column in ("measure", "mean", "sd", "min", "max"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for name, measure in MEASURES.items():
        got = summary.spread(measure)
        table.add_row(name, *(_cell(x) for x in (got.mean, got.sd, got.low, got.high)))
    print_table(console, table)
    for r in summary.reports:
        console.print(
            f"seed {r.seed}: oracle ¥{r.oracle.value / 100:,.0f}, learned ¥"
            f"{r.results['learned'].incremental_value / 100:,.0f}, best single ({r.best_single_label}) ¥"
            f"{r.results['best_single'].incremental_value / 100:,.0f}"
        )
    if args.svg:
        console.print(f"chart written to {args.svg}")
    return 0
