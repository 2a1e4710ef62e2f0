"""`skylane rewards ...` commands: the offline simulator."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.progress import Progress
from rich.table import Table

from services.common.cli_client import PipeSafeConsole
from services.common.config import ConfigError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rewards = commands.add_parser("rewards", help="rewards service tools")
    sub = rewards.add_subparsers(dest="rewards_command", required=True, metavar="ACTION")
    sim = sub.add_parser(
        "simulate",
        help="run the real allocation policy, baselines and the LP oracle on a scenario",
        description="Simulate a campaign day by day through the real allocation code under a budget and compare "
        "it with no coupon, a flat coupon, a random arm, greedy uplift-per-cost and the knapsack LP oracle. "
        "Scenario format: services/rewards/scenarios/example.yaml.",
    )
    sim.add_argument("--scenario", required=True, type=Path, help="scenario YAML file")
    sim.add_argument("--chart", type=Path, default=None, help="write an SVG chart of cumulative value to this file")
    sim.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    sim.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    from services.rewards.sim.chart import svg
    from services.rewards.sim.engine import POLICIES, simulate
    from services.rewards.sim.scenario import load_scenario

    console = PipeSafeConsole()
    try:
        scenario = load_scenario(args.scenario)
    except ConfigError as exc:
        print(f"invalid scenario {exc.source}:\n  " + "\n  ".join(exc.errors), file=sys.stderr)
        return 2
    if args.seed is not None:
        scenario = scenario.model_copy(update={"seed": args.seed})
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("simulating", total=scenario.days * len(POLICIES))
        report = simulate(scenario, tick=lambda: progress.advance(task))

    table = Table(
        title=f"{scenario.name}: {scenario.days} days × {scenario.arrivals_per_day} arrivals, "
        f"budget ¥{scenario.budget.total_fen / 100:,.0f}"
    )
    for column in (
        "policy",
        "offers",
        "redeemed",
        "incr. conversions",
        "incr. value ¥",
        "spend ¥ (realised)",
        "expected spend ¥",
        "oracle @ same expected spend ¥",
        "share of oracle",
    ):
        table.add_column(column, justify="right" if column != "policy" else "left")
    for name, r in report.results.items():
        table.add_row(
            name,
            f"{r.offers:,}",
            f"{r.conversions:,}",
            f"{r.incremental_conversions:,.1f}",
            f"{r.incremental_value / 100:,.0f}",
            f"{r.spend / 100:,.0f}",
            f"{r.expected_spend / 100:,.0f}",
            f"{r.oracle_at_same_spend / 100:,.0f}",
            f"{r.share_of_oracle:.1%}",
        )
    table.add_row(
        "oracle (LP bound, full budget)",
        "",
        "",
        "",
        f"{report.oracle.value / 100:,.0f}",
        "",
        f"{report.oracle.cost / 100:,.0f}",
        f"{report.oracle.value / 100:,.0f}",
        "100.0%",
    )
    console.print(table)
    console.print(f"final λ of the learned policy: {report.final_lambda:.3f}")
    if args.chart:
        args.chart.write_text(svg(report), encoding="utf-8")
        console.print(f"chart written to {args.chart}")
    return 0
