"""`skylane router ...`: the ops workflow over the router's ops RPCs (validate, what-if, shadow, roll out,
activate, roll back, report)."""

from __future__ import annotations

import argparse
import uuid
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.common.cli_client import (
    CliError,
    positive_int,
    run_call,
    service_zone,
    share,
    show_time,
    when_arg,
    window,
)
from services.router.partners import cli as partners_cli
from skylane.common.v1 import admin_pb2, admin_pb2_grpc, types_pb2
from skylane.router.v1 import router_pb2, router_pb2_grpc

DEFAULT_ADDRESS = "127.0.0.1:50051"
TIMEOUT_S = 30.0
MODES = {
    "shadow": router_pb2.CANDIDATE_MODE_SHADOW,
    "rollout": router_pb2.CANDIDATE_MODE_ROLLOUT,
    "off": router_pb2.CANDIDATE_MODE_UNSPECIFIED,
}


def _window(args: argparse.Namespace, channel: grpc.Channel) -> types_pb2.TimeWindow:
    """--since/--until read in the router's time zone (its config's `timezone`); printed back the same way."""
    zone = service_zone(channel)
    since, until = window(args.since, args.until, zone)
    print(f"window {show_time(since, zone)} to {show_time(until, zone)}")
    start, end = Timestamp(), Timestamp()
    start.FromDatetime(since)
    end.FromDatetime(until)
    return types_pb2.TimeWindow(start=start, end=end)


def _key() -> types_pb2.IdempotencyKey:
    return types_pb2.IdempotencyKey(value=uuid.uuid4().hex)


def _dest(value: int) -> str:
    return router_pb2.Destination.Name(value).removeprefix("DESTINATION_")


def _print_mix(title: str, mix: router_pb2.DecisionMix) -> None:
    tiers = ", ".join(f"{k} {v}" for k, v in sorted(mix.by_tier.items()))
    dests = ", ".join(f"{k} {v}" for k, v in sorted(mix.by_destination.items()))
    print(f"{title:<7} tiers: {tiers or '-'} | destinations: {dests or '-'}")


def _what_if(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        candidate = None if args.version else Path(args.candidate).read_text(encoding="utf-8")
        request = router_pb2.WhatIfRequest(window=_window(args, channel), max_samples=args.samples)
        if candidate is None:
            request.version = args.version
        else:
            request.config_yaml = candidate
        result = router_pb2_grpc.RouterOpsServiceStub(channel).WhatIf(request, timeout=TIMEOUT_S)
        print(f"candidate {result.candidate_version}: replayed {result.replayed}, changed {result.changed}")
        _print_mix("before", result.before)
        _print_mix("after", result.after)
        for s in result.samples:
            reasons = "; ".join(r.message for r in s.reasons_after)
            print(
                f"  {s.decision_id}: {s.tier_before} → {s.tier_after}, "
                f"{_dest(s.destination_before)} → {_dest(s.destination_after)} ({reasons})"
            )

    return run_call(args.address, call)


def _validate(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        text = Path(args.file).read_text(encoding="utf-8")
        reply = admin_pb2_grpc.AdminStub(channel).ValidateConfig(admin_pb2.ValidateConfigRequest(yaml=text))
        if reply.valid:
            print(f"valid: version {reply.version}")
        else:
            print("invalid:\n  " + "\n  ".join(reply.errors))
            raise SystemExit(1)

    return run_call(args.address, call)


def _versions(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        zone = service_zone(channel)
        reply = router_pb2_grpc.RouterOpsServiceStub(channel).ListPolicyVersions(
            router_pb2.ListPolicyVersionsRequest(), timeout=TIMEOUT_S
        )
        s = reply.state
        mode = router_pb2.CandidateMode.Name(s.mode).removeprefix("CANDIDATE_MODE_")
        print(f"champion {s.champion_version}  candidate {s.candidate_version or '-'} ({mode}, share {s.share:.2f})")
        for v in reply.versions:
            print(
                f"  {v.version} {v.role:<9} {v.source:<4} acted {v.acted:>7} shadowed {v.shadowed:>7} "
                f"agreement {v.agreement:6.1%} fallbacks {v.fallbacks}"
            )
        for e in reply.history[:10]:
            print(f"  {show_time(e.at, zone)} {e.action:<13} champion {e.champion_version}")

    return run_call(args.address, call)


def _candidate(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        request = router_pb2.SetCandidateRequest(idempotency_key=_key(), mode=MODES[args.mode], share=args.share)
        if args.mode != "off":
            if args.version:
                request.version = args.version
            elif args.file:
                request.config_yaml = Path(args.file).read_text(encoding="utf-8")
            else:
                raise CliError("candidate shadow/rollout needs --version or --file")
        state = router_pb2_grpc.RouterOpsServiceStub(channel).SetCandidate(request, timeout=TIMEOUT_S)
        print(f"candidate {state.candidate_version or '-'} share {state.share:.2f}")

    return run_call(args.address, call)


def _activate(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        stub = router_pb2_grpc.RouterOpsServiceStub(channel)
        if args.version == "rollback":
            state = stub.RollbackPolicy(router_pb2.RollbackPolicyRequest(idempotency_key=_key()), timeout=TIMEOUT_S)
        else:
            state = stub.ActivatePolicyVersion(
                router_pb2.ActivatePolicyVersionRequest(idempotency_key=_key(), version=args.version), timeout=TIMEOUT_S
            )
        print(f"champion {state.champion_version}")

    return run_call(args.address, call)


def _report(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        r = router_pb2_grpc.RouterOpsServiceStub(channel).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=_window(args, channel)), timeout=TIMEOUT_S
        )
        print(f"decisions {r.total} (sticky repeats {r.sticky_repeats})")
        for title, rows in (
            ("tier", r.by_tier),
            ("destination", r.by_destination),
            ("channel", r.by_channel),
            ("day", r.by_day),
        ):
            print(f"by {title}: " + ", ".join(f"{c.key} {c.count} ({c.share:.1%})" for c in rows))
        for c in r.capacity:
            print(f"in-house {c.product_id} {c.day}: {c.used}/{c.cap}")

    return run_call(args.address, call)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    router = commands.add_parser(
        "router", help="router ops: validate, what-if, candidate, activate, report, simulate (partner policies)"
    )
    sub = router.add_subparsers(dest="router_command", required=True, metavar="ACTION")

    def parser(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--address", default=DEFAULT_ADDRESS, help=f"router gRPC address (default {DEFAULT_ADDRESS})")
        return p

    def windowed(p: argparse.ArgumentParser) -> None:
        zone = "in the router's configured time zone unless it carries an offset"
        p.add_argument(
            "--since",
            type=when_arg,
            help=f"start: ISO date/time {zone}, today, yesterday or an age such as 36h (default: 24 h before --until)",
        )
        p.add_argument("--until", type=when_arg, help=f"end: as --since (default: now); times are {zone}")

    p = parser("validate", "check a router.yaml against the running service's schema")
    p.add_argument("file")
    p.set_defaults(handler=_validate)

    p = parser("what-if", "replay recorded decisions under a candidate policy (changes nothing)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--candidate", help="router.yaml whose `policy` block is the candidate")
    group.add_argument("--version", help="a known policy version")
    p.add_argument("--samples", type=positive_int, default=20, help="changed decisions to show (default 20)")
    windowed(p)
    p.set_defaults(handler=_what_if)

    p = parser("versions", "policy versions, their statistics and the change history")
    p.set_defaults(handler=_versions)

    p = parser("candidate", "run a candidate in shadow, roll it out to a share, or switch it off")
    p.add_argument("mode", choices=list(MODES))
    p.add_argument("--file", help="router.yaml whose `policy` block becomes the candidate")
    p.add_argument("--version", help="a known policy version")
    p.add_argument("--share", type=share, default=0.0, help="rollout share 0..1")
    p.set_defaults(handler=_candidate)

    p = parser("activate", "make a policy version the champion ('rollback' restores the previous one)")
    p.add_argument("version")
    p.set_defaults(handler=_activate)

    p = parser("report", "routing counts by tier, destination, channel and day; in-house capacity")
    windowed(p)
    p.set_defaults(handler=_report)

    # The partner side: `skylane router simulate` and `skylane partner-sim`.
    partners_cli.register_simulate(sub)
    partners_cli.register(commands)
