"""Command-line entry points of the partner side: `skylane partner-sim` and `skylane router simulate`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.common.cli_client import PipeSafeConsole
from services.common.config import ConfigError
from services.common.ports import PortInUse, check_free

DEFAULT_SCENARIO = "config/scenarios/partners.yaml"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `partner-sim` to the top-level `skylane` command."""
    sim = commands.add_parser(
        "partner-sim",
        help="run simulated partner lenders (skylane.partner.v1) from a scenario file",
        description="Runs reference partner lenders implementing skylane.partner.v1: configurable bids, acceptance "
        "and funding rates, latency and failure modes (error, hang, garbage, down). With --router, accepted "
        "leads are reported back through LeadService.ReportLeadOutcome. Stops on SIGINT/SIGTERM.",
    )
    sim.add_argument("--scenario", default=DEFAULT_SCENARIO, help=f"scenario file (default: {DEFAULT_SCENARIO})")
    sim.add_argument("--only", action="append", default=[], metavar="ID", help="run only these partners (repeatable)")
    sim.add_argument("--router", default=None, help="router address for postbacks (default: the scenario's `router`)")
    sim.add_argument("--no-postbacks", action="store_true", help="do not report outcomes to the router")
    sim.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    sim.add_argument(
        "--failure",
        choices=["none", "error", "hang", "garbage", "down"],
        default=None,
        help="override every partner's failure mode",
    )
    sim.set_defaults(handler=run_partner_sim)


def register_simulate(router_commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `simulate` under `skylane router`."""
    simulate = router_commands.add_parser(
        "simulate",
        help="value per lead of the learned partner policy vs an upper bound and baselines, over seeds",
        description="Runs the scenario's applicants through the router's real partner selection, learning and "
        "cap code against simulated partners whose true rates are in the scenario file (hidden from the "
        "router), once per seed, and prints value per lead (mean ± sd over seeds) of the learned policy, the "
        "upper bound (exact per-lead optimum; LP relaxation over the run where caps bind), the best static "
        "waterfall per tier chosen in hindsight, the configured waterfall and highest bid. Writes the learning "
        "curve as SVG. Format and measured tables: docs/router-decisions.md.",
    )
    simulate.add_argument("--scenario", default=DEFAULT_SCENARIO, help=f"scenario file (default: {DEFAULT_SCENARIO})")
    simulate.add_argument(
        "--config",
        default=None,
        help="router config whose `partners:` registry to use when the scenario has no `registry:` "
        "(default: config/router.yaml)",
    )
    simulate.add_argument("--applicants", type=int, default=None, help="number of applicants (default: the scenario's)")
    simulate.add_argument("--seed", type=int, default=None, help="first seed (default: the scenario's)")
    simulate.add_argument("--seeds", type=int, default=1, help="number of seeds, from --seed on (default: 1)")
    simulate.add_argument(
        "--estimator",
        choices=["contextual", "tier"],
        default="contextual",
        help="learned policy's estimates: contextual pooled (default) or per-tier Beta counts",
    )
    simulate.add_argument(
        "--svg", default=None, help="learning-curve SVG path (default: var/router-simulate-<scenario>.svg)"
    )
    simulate.add_argument("--no-svg", action="store_true", help="do not write the SVG")
    simulate.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    simulate.add_argument("--no-progress", action="store_true", help="no progress bar")
    simulate.set_defaults(handler=run_simulate)


def run_partner_sim(args: argparse.Namespace) -> int:
    from services.common.logging import configure_logging
    from services.router.sim.partner_sim import start_sim, stop_sims
    from services.router.sim.scenario import load_scenario

    configure_logging("info")
    try:
        scenario = load_scenario(Path(args.scenario))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    specs = [p for p in scenario.partners if not args.only or p.id in args.only]
    if args.failure:
        specs = [p.model_copy(update={"failure": args.failure}) for p in specs]
    try:
        check_sim_ports(specs, args.host)
    except PortInUse as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    router = "" if args.no_postbacks else (args.router or scenario.router)

    async def main() -> None:
        running = [await start_sim(spec, host=args.host, seed=scenario.seed, router=router) for spec in specs]
        for r in running:
            print(f"partner-sim {r.sim.spec.id} listening on {args.host}:{r.port} (failure={r.sim.mode})", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await stop_sims(running)
            for r in running:
                rec = r.sim.record
                print(
                    f"partner-sim {r.sim.spec.id}: pings={rec.ping_calls} posts={rec.post_calls} "
                    f"leads={len(rec.posts)} accepted={len(r.sim.accepted_leads())} postbacks={rec.postbacks}"
                )

    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"partner-sim: {exc}", file=sys.stderr)
        return 2
    return 0


def check_sim_ports(specs: Sequence[Any], host: str) -> None:
    """Raises PortInUse for the first partner whose port is taken: grpc would otherwise share it
    (SO_REUSEPORT) and say "listening" while another process answers half the calls."""
    for spec in specs:
        check_free(
            host, spec.port, f"partner-sim {spec.id}", "stop the other partner-sim or change the scenario's port"
        )


def load_registry(scenario: Any, config_path: str | None) -> Any:
    """The scenario's own registry, else the `partners:` section of the router config."""
    import yaml

    from services.router.partners.config import PartnersConfig

    if scenario.registry is not None and config_path is None:
        return scenario.registry
    path = Path(config_path or "config/router.yaml")
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return PartnersConfig.model_validate(document.get("partners") or {})


def run_simulate(args: argparse.Namespace) -> int:
    import json

    import yaml
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from services.router.sim import runner
    from services.router.sim.chart import svg
    from services.router.sim.scenario import load_scenario

    console = PipeSafeConsole()
    try:
        if args.seeds < 1 or (args.applicants is not None and args.applicants < 1):
            raise ValueError("--seeds and --applicants must be at least 1")
        scenario = load_scenario(Path(args.scenario))
        registry = load_registry(scenario, args.config)
    except (ConfigError, OSError, ValueError, yaml.YAMLError) as exc:
        print(f"router simulate: {exc}", file=sys.stderr)
        return 2
    total = args.applicants or scenario.applicants
    first = scenario.seed if args.seed is None else args.seed
    progress = Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=args.no_progress or args.json,
    )
    results = []
    with progress:
        task = progress.add_task("leads", total=total * args.seeds * len(runner.POLICIES))
        for seed in range(first, first + args.seeds):
            results.append(
                runner.simulate_seed(
                    scenario,
                    registry,
                    seed,
                    applicants=total,
                    estimator=args.estimator,
                    on_progress=lambda n: progress.advance(task, n),
                )
            )
    svg_path = None
    if not args.no_svg:
        svg_path = Path(args.svg or f"var/router-simulate-{Path(args.scenario).stem}.svg")
        try:
            svg_path.parent.mkdir(parents=True, exist_ok=True)
            title = f"{Path(args.scenario).name}: value per lead over the run, mean of {args.seeds} seed(s)"
            svg_path.write_text(svg(title, runner.curves(results)), encoding="utf-8")
        except OSError as exc:
            print(f"router simulate: cannot write {svg_path}: {exc.strerror}", file=sys.stderr)
            return 2
    if args.json:
        document = runner.as_json(args.scenario, results)
        document["svg"] = str(svg_path) if svg_path else None
        print(json.dumps(document, indent=2))
        return 0
    print_summary(console, args.scenario, results, svg_path)
    return 0


def print_summary(console: Any, scenario: str, results: list[Any], svg_path: Path | None) -> None:
    from rich.table import Table

    from services.router.sim import runner

    s = runner.summary(results)
    seeds = [r.seed for r in results]
    table = Table(
        title=f"{scenario}: value per lead over {results[0].leads} applicants, "
        f"{len(seeds)} seed(s) {seeds[0]}..{seeds[-1]} (mean ± sd)"
    )
    for column in ("policy", "value/lead (¥)", "of upper bound", "realized/lead (¥)", "sold"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for name, row in s["rows"].items():
        v, b = row["value_per_lead_yuan"], row["of_bound"]
        realized, sold = row.get("realized_per_lead_yuan"), row.get("sold")
        table.add_row(
            name,
            f"{v.mean:.2f} ± {v.sd:.2f}",
            f"{b.mean:.1%} ± {b.sd:.1%}",
            f"{realized.mean:.2f} ± {realized.sd:.2f}" if realized else "-",
            f"{sold.mean:.1%}" if sold else "-",
        )
    console.print(table)
    vs, gap = s.get("learned_vs_static"), s.get("gap_closed")
    if vs is not None and gap is not None:
        console.print(
            f"learned / best static: {vs.mean:.3f} ± {vs.sd:.3f}; "
            f"gap from best static to the bound closed: {gap.mean:.0%} ± {gap.sd:.0%}"
        )
    if any(r.bound.caps_bind for r in results):
        console.print("caps bind: the upper bound is the LP relaxation over the run (Lagrangian dual)")
    if not all(r.bound.exact for r in results):
        console.print("note: some leads had too many bidders for the exact chain search under time limits")
    if svg_path is not None:
        console.print(f"learning curve: {svg_path}")
