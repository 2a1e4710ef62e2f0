"""Command-line entry points of the partner side: `skylane partner-sim` and `skylane router simulate`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
        help="value per lead of the configured partner policy vs waterfall, highest bid and an oracle",
        description="Runs N applicants through the router's real partner selection and learning code against "
        "simulated partners whose true rates are in the scenario file (hidden from the router) and reports "
        "value per lead for the configured policy, the static waterfall, highest-bid-wins and an oracle.",
    )
    simulate.add_argument("--scenario", default=DEFAULT_SCENARIO, help=f"scenario file (default: {DEFAULT_SCENARIO})")
    simulate.add_argument(
        "--config",
        default=None,
        help="router config whose `partners:` registry to use when the scenario has no `registry:` "
        "(default: config/router.yaml)",
    )
    simulate.add_argument("--applicants", type=int, default=None, help="number of applicants (default: the scenario's)")
    simulate.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's)")
    simulate.add_argument("--no-progress", action="store_true", help="no progress bar")
    simulate.set_defaults(handler=run_simulate)


def run_partner_sim(args: argparse.Namespace) -> int:
    from services.common.logging import configure_logging
    from services.router.partners.scenario import load_scenario
    from services.router.partners.sim import start_sim, stop_sims

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
    import yaml
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from rich.table import Table

    from services.router.partners.scenario import load_scenario
    from services.router.partners.simulate import simulate

    console = PipeSafeConsole()
    try:
        scenario = load_scenario(Path(args.scenario))
        registry = load_registry(scenario, args.config)
    except (ConfigError, OSError, ValueError, yaml.YAMLError) as exc:
        print(f"router simulate: {exc}", file=sys.stderr)
        return 2
    total = args.applicants or scenario.applicants
    progress = Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=args.no_progress,
    )
    with progress:
        task = progress.add_task("applicants", total=total)
        results = simulate(
            scenario,
            registry,
            applicants=total,
            seed=args.seed,
            on_progress=lambda n: progress.advance(task, n),
        )
    oracle = results[-1].value_per_lead
    table = Table(title=f"value per lead over {total} applicants (scenario {args.scenario})")
    for column in ("policy", "value/lead (yuan)", "vs oracle", "sold", "funded"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for r in results:
        table.add_row(
            r.name,
            f"{r.value_per_lead / 100:.2f}",
            f"{r.value_per_lead / oracle:.1%}" if oracle else "-",
            f"{r.sold / r.leads:.1%}",
            f"{r.funded / r.leads:.1%}",
        )
    console.print(table)
    learned, waterfall = results[0], results[1]
    if oracle:
        gap = 1 - learned.value_per_lead / oracle
        with contextlib.suppress(ZeroDivisionError):
            lead = learned.value_per_lead / waterfall.value_per_lead - 1
            console.print(f"configured policy: {gap:.1%} below the oracle, {lead:+.1%} vs the static waterfall")
    return 0
