"""Command-line entry points of the partner side: `skylane partner-sim` and `skylane router simulate`."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from services.common.cli_client import PipeSafeConsole, positive_int
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
    sim.add_argument(
        "--json",
        action="store_true",
        help="print JSON lines instead of text: one {event: listening, ...} per partner at start, one "
        "{event: stopped, ...} with its counts per partner at exit",
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
    simulate.add_argument("--seeds", type=positive_int, default=1, help="number of seeds, from --seed on (default: 1)")
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
    import json

    from services.common.logging import configure_logging
    from services.router.sim.partner_sim import start_sim, stop_sims
    from services.router.sim.scenario import load_scenario

    configure_logging("info")
    try:
        scenario = load_scenario(Path(args.scenario))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    unknown = unknown_partners(args.only, [p.id for p in scenario.partners], args.scenario)
    if unknown:
        print(f"partner-sim: --only {unknown}", file=sys.stderr)
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
        stop = asyncio.Event()  # handlers first: a signal right after "listening" stops cleanly
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        running = [await start_sim(spec, host=args.host, seed=scenario.seed, router=router) for spec in specs]
        for r in running:
            if args.json:
                line = {"event": "listening", "partner_id": r.sim.spec.id, "address": f"{args.host}:{r.port}"}
                print(json.dumps({**line, "failure": r.sim.mode}), flush=True)
                continue
            print(f"partner-sim {r.sim.spec.id} listening on {args.host}:{r.port} (failure={r.sim.mode})", flush=True)
        try:
            await stop.wait()
        finally:
            await stop_sims(running)
            for r in running:
                rec = r.sim.record
                if args.json:
                    counts = {"pings": rec.ping_calls, "posts": rec.post_calls, "leads": len(rec.posts)}
                    accepted = {"accepted": len(r.sim.accepted_leads()), "postbacks": rec.postbacks}
                    print(json.dumps({"event": "stopped", "partner_id": r.sim.spec.id, **counts, **accepted}))
                    continue
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


def unknown_partners(only: Sequence[str], known: Sequence[str], scenario: str) -> str:
    """Why --only names a partner the scenario does not have ("" when it names none): such a run would
    serve nothing and idle until stopped."""
    missing = [name for name in dict.fromkeys(only) if name not in known]
    if not missing:
        return ""
    names = ", ".join(repr(name) for name in missing)
    return f"names no partner of {scenario}: {names} (its partners: {', '.join(known)})"


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


def unmatched_partners(scenario: Any, registry: Any) -> list[str]:
    """The simulated partners no registry lender names (they are never pinged). None matching at all is a
    scenario that routes nothing: refused, naming the lenders it could use."""
    lenders = {lender.id for lender in registry.lenders}
    unmatched = [p.id for p in scenario.partners if p.id not in lenders]
    if len(unmatched) == len(scenario.partners):
        raise ValueError(
            f"no simulated partner ({', '.join(unmatched)}) is a lender of the registry, so no lead would be "
            "routed: give the scenario a `registry:` block or use its lenders' ids "
            f"({', '.join(sorted(lenders)) or 'none'})"
        )
    return unmatched


def run_simulate(args: argparse.Namespace) -> int:
    import json
    from zoneinfo import ZoneInfo

    import yaml
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from services.router.sim import runner
    from services.router.sim.chart import svg
    from services.router.sim.market import arrival_hours_problem, caps_past_run, idle_parts
    from services.router.sim.scenario import load_scenario

    console = PipeSafeConsole()
    try:
        if args.seeds < 1 or (args.applicants is not None and args.applicants < 1):
            raise ValueError("--seeds and --applicants must be at least 1")
        scenario = load_scenario(Path(args.scenario))
        registry = load_registry(scenario, args.config)
        problem = arrival_hours_problem(scenario, ZoneInfo(registry.caps_timezone))
        if problem:
            raise ValueError(problem)
        for partner in unmatched_partners(scenario, registry):
            print(f"router simulate: partner {partner} is no lender of the registry: never pinged", file=sys.stderr)
        for note in caps_past_run(scenario, registry) + idle_parts(scenario, registry):
            print(f"router simulate: {note}", file=sys.stderr)
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
    for name, row in s.rows.items():
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
    if s.learned_vs_static is not None and s.gap_closed is not None:
        vs, gap = s.learned_vs_static, s.gap_closed
        pooled = f" (of the means: {s.gap_closed_of_means:.0%})" if s.gap_closed_of_means is not None else ""
        console.print(
            f"learned / best static: {vs.mean:.3f} ± {vs.sd:.3f}; gap from best static to the bound closed: "
            f"{gap.mean:.0%} ± {gap.sd:.0%}{pooled}"
        )
    if any(r.bound.caps_bind for r in results):
        console.print("caps bind: the upper bound is the LP relaxation over the run (Lagrangian dual)")
    if not all(r.bound.exact for r in results):
        console.print("note: some leads had too many bidders for the exact chain search under time limits")
    if svg_path is not None:
        console.print(f"learning curve: {svg_path}")


# --- Ops over LeadService: `router partners report|trace`, `router dead-letters list|replay` ---------------

OPS_TIMEOUT_S = 30.0


def register_ops(router_commands: argparse._SubParsersAction[argparse.ArgumentParser], address: str) -> None:
    """Adds `partners report|trace` and `dead-letters list|replay` under `skylane router`."""
    from services.common.cli_client import add_json_flag

    def leaf(group: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str) -> Any:
        p = group.add_parser(name, help=text, description=text)
        p.add_argument("--address", default=address, help=f"router gRPC address (default {address})")
        add_json_flag(p)
        return p

    partners = router_commands.add_parser("partners", help="partner lenders: figures per partner, one lead's trace")
    sub = partners.add_subparsers(dest="partners_command", required=True, metavar="ACTION")
    p = leaf(sub, "report", "per partner: pings, bids, wins, acceptance, funding, revenue, latency, returns, circuit")
    p.add_argument("--partner", default="", help="only this partner (default: every configured partner)")
    p.set_defaults(handler=_partners_report)
    p = leaf(sub, "trace", "one lead: every partner considered, its bid, latency and rank, and the deliveries")
    p.add_argument("lead_id")
    p.set_defaults(handler=_lead_trace)

    dead = router_commands.add_parser("dead-letters", help="lead deliveries that used up their attempts")
    sub = dead.add_subparsers(dest="dead_letters_command", required=True, metavar="ACTION")
    p = leaf(sub, "list", "dead-lettered deliveries, oldest first")
    p.add_argument("--partner", default="", help="only this partner's")
    p.add_argument("--limit", type=positive_int, default=100, help="at most this many (default 100)")
    p.set_defaults(handler=_dead_letters_list)
    p = leaf(sub, "replay", "put dead letters back into the outbox for a fresh round of attempts")
    p.add_argument("delivery_ids", nargs="*", metavar="DELIVERY_ID", help="delivery ids from `dead-letters list`")
    p.add_argument("--all", action="store_true", help="replay every dead letter (of --partner, if given)")
    p.add_argument("--partner", default="", help="with --all: only this partner's")
    p.add_argument(
        "--idempotency-key",
        default="",
        help="reuse a key to retry safely; each delivery's key is KEY:DELIVERY_ID (default: fresh)",
    )
    p.set_defaults(handler=_dead_letters_replay)


def _lead_stub(channel: Any) -> Any:
    from skylane.router.v1 import leads_pb2_grpc

    return leads_pb2_grpc.LeadServiceStub(channel)


def partner_row(r: Any) -> dict[str, Any]:
    return {
        "partner_id": r.partner_id,
        "pings": r.pings,
        "ping_response_rate": r.ping_response_rate,
        "bid_rate": r.bid_rate,
        "win_rate": r.win_rate,
        "post_acceptance_rate": r.post_acceptance_rate,
        "funded_rate": r.funded_rate,
        "accepted_leads": r.accepted_leads,
        "revenue_per_lead_fen": r.revenue_per_lead_fen,
        "p50_latency_ms": r.p50_latency_ms,
        "p99_latency_ms": r.p99_latency_ms,
        "returns": r.returns,
        "accept_estimate": dict(sorted(r.accept_estimate.items())),
        "fund_estimate": dict(sorted(r.fund_estimate.items())),
        "circuit": r.circuit,
    }


def _partners_report(args: argparse.Namespace) -> int:
    from services.common.cli_client import make_console, new_table, percent, print_json, print_table, run_call, yuan
    from skylane.router.v1 import leads_pb2

    def call(channel: Any) -> None:
        reply = _lead_stub(channel).GetPartnerReport(
            leads_pb2.GetPartnerReportRequest(partner_id=args.partner), timeout=OPS_TIMEOUT_S
        )
        if args.json:
            print_json({"partners": [partner_row(r) for r in reply.partners]})
            return
        table = new_table(
            "partner", "pings", "answered", "bid", "won", "accepted", "funded", "leads", "revenue/lead",
            "p50 ms", "p99 ms", "returns", "circuit",
        )  # fmt: skip
        for r in reply.partners:
            table.add_row(
                r.partner_id,
                f"{r.pings:,}",
                percent(r.ping_response_rate),
                percent(r.bid_rate),
                percent(r.win_rate),
                percent(r.post_acceptance_rate),
                percent(r.funded_rate),
                f"{r.accepted_leads:,}",
                yuan(r.revenue_per_lead_fen),
                f"{r.p50_latency_ms:.0f}",
                f"{r.p99_latency_ms:.0f}",
                f"{r.returns:,}",
                r.circuit,
            )
        console = make_console()
        print_table(console, table)
        estimates = new_table("partner", "tier", "P(accept)", "P(fund)", left=2, title="learned estimates")
        for r in reply.partners:
            for tier in sorted(set(r.accept_estimate) | set(r.fund_estimate)):
                accept, fund = r.accept_estimate.get(tier), r.fund_estimate.get(tier)
                estimates.add_row(r.partner_id, tier, percent(accept), percent(fund))
        if estimates.row_count:
            print_table(console, estimates)

    return run_call(args.address, call)


def _money(m: Any) -> int:
    return int(m.fen)


def lead_trace_document(t: Any) -> dict[str, Any]:
    from services.common.cli_client import or_none, rfc3339
    from skylane.router.v1 import leads_pb2

    return {
        "lead_id": t.lead_id,
        "decision_id": t.decision_id,
        "tier": t.tier,
        "source_channel": t.source_channel,
        "selection_policy": t.policy,
        "config_version": t.config_version,
        "status": t.status,
        "partner_id": or_none(t.partner_id),
        "outcome": leads_pb2.LeadOutcomeKind.Name(t.outcome).removeprefix("LEAD_OUTCOME_") if t.outcome else None,
        "created_at": rfc3339(t.created_at),
        "entries": [
            {
                "partner_id": e.partner_id,
                "status": e.status,
                "detail": e.detail,
                "bid_fen": _money(e.bid),
                "latency_ms": e.latency_ms,
                "expected_value_fen": e.expected_value_fen,
                "rank": e.rank or None,
            }
            for e in t.entries
        ],
        "deliveries": [
            {
                "delivery_id": d.delivery_id,
                "partner_id": d.partner_id,
                "status": d.status,
                "attempts": d.attempts,
                "last_error": or_none(d.last_error),
                "price_fen": _money(d.price),
            }
            for d in t.deliveries
        ],
    }


def _lead_trace(args: argparse.Namespace) -> int:
    from services.common.cli_client import make_console, new_table, print_json, print_table, run_call, yuan
    from skylane.router.v1 import leads_pb2

    def call(channel: Any) -> None:
        trace = _lead_stub(channel).GetLeadTrace(
            leads_pb2.GetLeadTraceRequest(lead_id=args.lead_id), timeout=OPS_TIMEOUT_S
        )
        doc = lead_trace_document(trace)
        if args.json:
            print_json(doc)
            return
        print(
            f"lead {doc['lead_id']}: {doc['status']}, partner {doc['partner_id'] or 'none'}, "
            f"outcome {doc['outcome'] or 'none'}"
        )
        print(f"  decision {doc['decision_id']}, tier {doc['tier']}, channel {doc['source_channel']}")
        print(f"  selection {doc['selection_policy']}, config version {doc['config_version']}")
        console = make_console()
        table = new_table("partner", "status", "bid", "ping ms", "expected value", "rank", "detail")
        table.columns[-1].justify = "left"
        for e in doc["entries"]:
            table.add_row(
                e["partner_id"],
                e["status"],
                yuan(e["bid_fen"]) if e["bid_fen"] else "-",
                f"{e['latency_ms']:.0f}" if e["latency_ms"] else "-",
                yuan(e["expected_value_fen"]) if e["expected_value_fen"] else "-",
                str(e["rank"] or "-"),
                e["detail"],
            )
        print_table(console, table)
        deliveries = new_table("delivery", "partner", "status", "attempts", "price", "last error", left=3)
        deliveries.columns[-1].justify = "left"
        for d in doc["deliveries"]:
            deliveries.add_row(
                d["delivery_id"], d["partner_id"], d["status"], str(d["attempts"]), yuan(d["price_fen"]),
                d["last_error"] or "",
            )  # fmt: skip
        if deliveries.row_count:
            print_table(console, deliveries)

    return run_call(args.address, call)


def _dead_letter_pages(channel: Any, partner: str, limit: int) -> list[Any]:
    from skylane.common.v1 import types_pb2
    from skylane.router.v1 import leads_pb2

    found: list[Any] = []
    token = ""
    while len(found) < limit:
        page = _lead_stub(channel).ListDeadLetters(
            leads_pb2.ListDeadLettersRequest(
                page=types_pb2.PageRequest(page_size=min(500, limit - len(found)), page_token=token),
                partner_id=partner,
            ),
            timeout=OPS_TIMEOUT_S,
        )
        found.extend(page.dead_letters)
        token = page.page.next_page_token
        if not token:
            break
    return found[:limit]


def _dead_letters_list(args: argparse.Namespace) -> int:
    from services.common.cli_client import (
        make_console,
        new_table,
        print_json,
        print_table,
        rfc3339,
        run_call,
        service_zone,
        show_time,
    )

    def call(channel: Any) -> None:
        letters = _dead_letter_pages(channel, args.partner, args.limit)
        if args.json:
            print_json(
                {
                    "dead_letters": [
                        {
                            "delivery_id": d.delivery_id,
                            "lead_id": d.lead_id,
                            "partner_id": d.partner_id,
                            "attempts": d.attempts,
                            "last_error": d.last_error,
                            "dead_at": rfc3339(d.dead_at),
                        }
                        for d in letters
                    ]
                }
            )
            return
        if not letters:
            print("no dead letters")
            return
        zone = service_zone(channel)
        table = new_table("delivery", "lead", "partner", "attempts", "dead at", "last error", left=3)
        table.columns[-1].justify = "left"
        for d in letters:
            table.add_row(
                d.delivery_id, d.lead_id, d.partner_id, str(d.attempts), show_time(d.dead_at, zone), d.last_error
            )
        print_table(make_console(), table)

    return run_call(args.address, call)


def _dead_letters_replay(args: argparse.Namespace) -> int:
    import uuid

    from services.common.cli_client import CliError, print_json, run_call
    from skylane.common.v1 import types_pb2
    from skylane.router.v1 import leads_pb2

    if bool(args.delivery_ids) == bool(args.all):
        raise CliError("give delivery ids or --all (not both)")
    if args.partner and not args.all:
        raise CliError("--partner goes with --all")
    base = args.idempotency_key or uuid.uuid4().hex

    def call(channel: Any) -> None:
        ids = args.delivery_ids or [d.delivery_id for d in _dead_letter_pages(channel, args.partner, 10_000)]
        replayed = []
        for delivery_id in ids:
            reply = _lead_stub(channel).ReplayDeadLetter(
                leads_pb2.ReplayDeadLetterRequest(
                    idempotency_key=types_pb2.IdempotencyKey(value=f"{base}:{delivery_id}"[:128]),
                    delivery_id=delivery_id,
                ),
                timeout=OPS_TIMEOUT_S,
            )
            replayed.append({"delivery_id": reply.delivery_id, "status": reply.status})
        if args.json:
            print_json({"replayed": replayed, "idempotency_key": base})
            return
        for r in replayed:
            print(f"replayed {r['delivery_id']}: {r['status']}")
        print(f"{len(replayed)} replayed (key {base})")

    return run_call(args.address, call)
