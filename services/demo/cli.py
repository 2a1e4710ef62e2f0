"""`skylane demo`: the whole product doing a day's work, ending in a report (terminal and HTML)."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from services.common.cli_client import CliError, make_console, print_json
from services.common.config import ConfigError

FULL = {"customers": 600, "applicants": 200}
FAST = {"customers": 150, "applicants": 40}
DATABASES = ("router.db", "growth.db", "rewards.db")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo",
        help="run the whole suite through a simulated day and report what it achieved (terminal and HTML)",
        description="Starts router, growth and rewards on SQLite in a temporary directory (or --var-dir) with the "
        "reference partner lenders, all on free ports, and drives a day of traffic on a movable clock: loan "
        "applicants from five channels, payments in the four scenes with coupon offers, claims and redemptions, "
        "sign-ins and other member activities, in-house loans drawn and travel rights redeemed. Ends with a "
        "report: routing mix and value per lead, partner deliveries and outcomes, coupon spend and uplift against "
        "the holdout with confidence intervals, points issued and levels reached, rights redeemed, the funnels; "
        "also written as one self-contained HTML file. The same --seed gives the same day and report.",
    )
    demo.add_argument("--seed", type=int, default=1, help="seed of the simulated world (default 1)")
    demo.add_argument(
        "--date", default=None, help="the day to simulate, YYYY-MM-DD (default: today in the config's zone)"
    )
    demo.add_argument(
        "--fast",
        action="store_true",
        help=f"a smaller day: {FAST['customers']} customers, {FAST['applicants']} applicants",
    )
    demo.add_argument("--customers", type=int, default=None, help=f"bank customers (default {FULL['customers']})")
    demo.add_argument("--applicants", type=int, default=None, help=f"loan applicants (default {FULL['applicants']})")
    demo.add_argument("--html", default=None, help="HTML report path (default: var/demo-<date>-seed<seed>.html)")
    demo.add_argument("--no-html", action="store_true", help="do not write the HTML report")
    demo.add_argument("--json", action="store_true", help="print the report as one JSON document (stable keys)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="after the report, keep the suite up (ops CLIs can query it; addresses are printed) until Ctrl-C",
    )
    demo.add_argument(
        "--config-dir",
        default=None,
        help="directory of the config files (default: ./config, else the config shipped beside the package)",
    )
    demo.add_argument(
        "--var-dir",
        default=None,
        help="an empty or new directory for the demo's databases, config copies and log, kept afterwards; a "
        "directory holding anything is refused (default: a temporary one, removed)",
    )
    demo.add_argument(
        "--partner-scenario",
        default=None,
        help="the reference partner lenders (default: scenarios/partners.yaml of the config directory)",
    )
    demo.set_defaults(handler=run)


def shipped_config_dir() -> Path:
    """./config where the demo runs from a checkout's root, else the config the source tree ships beside the
    `services` package, so the demo runs from any directory (an installed wheel carries no config: then
    ./config, and the missing file is named)."""
    here = Path("config")
    beside_package = Path(__file__).resolve().parents[2] / "config"
    if not (here / "router.yaml").exists() and (beside_package / "router.yaml").exists():
        return beside_package
    return here


def _resolve_paths(args: argparse.Namespace) -> None:
    """Fill in the config directory and the partner scenario the user did not give."""
    if args.config_dir is None:
        args.config_dir = str(shipped_config_dir())
    if args.partner_scenario is None:
        args.partner_scenario = str(Path(args.config_dir) / "scenarios" / "partners.yaml")


def _day(args: argparse.Namespace) -> date:
    if args.date:
        try:
            return date.fromisoformat(args.date)
        except ValueError:
            raise CliError(f"--date {args.date!r} is not a date (YYYY-MM-DD)") from None
    import yaml

    try:
        document = yaml.safe_load((Path(args.config_dir) / "router.yaml").read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise CliError(f"{args.config_dir}/router.yaml: {exc.strerror} (give --config-dir)") from None
    return datetime.now(ZoneInfo(str(document.get("timezone") or "UTC"))).date()


def _sizes(args: argparse.Namespace) -> tuple[int, int]:
    base = FAST if args.fast else FULL
    customers = args.customers if args.customers is not None else base["customers"]
    applicants = args.applicants if args.applicants is not None else base["applicants"]
    if customers < 1 or applicants < 1:
        raise CliError("--customers and --applicants must be at least 1")
    return customers, applicants


def _var_dir(args: argparse.Namespace) -> tuple[Path, bool]:
    """The demo's directory and whether it is a temporary one to remove."""
    if args.var_dir is None:
        return Path(tempfile.mkdtemp(prefix="skylane-demo-")), True
    folder = Path(args.var_dir)
    problem = var_dir_problem(folder)
    if problem:
        raise CliError(f"--var-dir {folder} {problem}: give the demo an empty or new directory")
    folder.mkdir(parents=True, exist_ok=True)
    return folder, False


def var_dir_problem(folder: Path) -> str:
    """Why the demo may not write into folder ("" when it may): only an empty or new directory is used, so no
    file of the user's (a config, a log, another run's databases) is overwritten or mixed into the report."""
    if folder.exists() and not folder.is_dir():
        return "is a file, not a directory"
    held = sorted(entry.name for entry in folder.iterdir()) if folder.is_dir() else []
    if not held:
        return ""
    taken = [name for name in DATABASES if name in held]
    if taken:
        return f"already holds service databases ({', '.join(taken)})"
    shown = ", ".join(held[:5]) + (f" and {len(held) - 5} more" if len(held) > 5 else "")
    return f"is not empty (it holds {shown})"


class BarProgress:
    """The run's phases as rich progress bars (on stderr, so stdout keeps the report)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def phase(self, name: str, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[-1].total)
        self.task = self.progress.add_task(name, total=max(total, 1))

    def update(self, done: int, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=done, total=max(total, 1))


def run(args: argparse.Namespace) -> int:
    from services.common.logging import configure_logging
    from services.demo.service.run import DemoOptions, run_demo

    _resolve_paths(args)
    day, (customers, applicants) = _day(args), _sizes(args)
    for path in (Path(args.config_dir) / "router.yaml", Path(args.partner_scenario)):
        if not path.exists():
            raise CliError(f"{path}: no such file (run from the repository, or give --config-dir / --partner-scenario)")
    var_dir, temporary = _var_dir(args)
    html_path = None if args.no_html else Path(args.html or f"var/demo-{day.isoformat()}-seed{args.seed}.html")
    options = DemoOptions(
        seed=args.seed, day=day, customers=customers, applicants=applicants, config_dir=Path(args.config_dir),
        var_dir=var_dir, partner_scenario=Path(args.partner_scenario),
    )  # fmt: skip
    console = make_console()
    log = (var_dir / "demo.log").open("w", encoding="utf-8")
    configure_logging("warning", stream=log)  # the services' log lines go to the file, not over the report
    progress = Progress(
        TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), disable=args.no_progress or args.json, transient=False,
    )  # fmt: skip

    async def keep_running(suite: Any, report: dict[str, Any]) -> None:
        _show(args, console, report, html_path)
        await _wait_for_ctrl_c(suite)

    try:
        with progress:
            report = asyncio.run(
                run_demo(options, BarProgress(progress), after=keep_running if args.keep_running else None)
            )
    except ConfigError as exc:
        raise CliError(f"{exc.source}: " + "; ".join(exc.errors)) from None
    finally:
        log.close()
        if temporary:
            shutil.rmtree(var_dir, ignore_errors=True)
    if not args.keep_running:
        _show(args, console, report, html_path)
    errors = report["checks"]["unexpected_errors"]
    if errors:
        listed = ", ".join(f"{what} ×{n}" for what, n in errors.items())
        print(f"skylane demo: the services refused or failed calls the demo did not expect: {listed}", file=sys.stderr)
        return 1
    return 0


def _show(args: argparse.Namespace, console: Console, report: dict[str, Any], html_path: Path | None) -> None:
    from services.demo.render import html, terminal

    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(html.render(report), encoding="utf-8")
        report["run"]["html"] = str(html_path)
    if args.json:
        print_json(report)
    else:
        terminal.render(console, report)
    if html_path is not None:
        print(f"HTML report: {html_path}", file=sys.stderr if args.json else sys.stdout)


async def _wait_for_ctrl_c(suite: Any) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    addresses = ", ".join(f"{name} {address}" for name, address in suite.addresses.items())
    print(f"the suite keeps running ({addresses}); e.g. skylane rewards report --address {suite.address('rewards')}")
    print("press Ctrl-C to stop", flush=True)
    await stop.wait()
