"""`skylane router ...`: the ops workflow over the router's ops RPCs (validate, what-if, shadow, roll out,
activate, roll back, report), one recorded decision, the Admin commands, and the partner side's commands
(`router partners ...`, `router dead-letters ...`, `router simulate`, `skylane partner-sim`).

Two versions are told apart everywhere: the **config version** is the content hash of the whole router.yaml
(plus environment overrides); the **policy version** is the content hash of its `policy` block, the unit
that is shadowed, rolled out, activated and rolled back. Text output names which one it prints; JSON keys end
in `config_version` or `policy_version`.
"""

from __future__ import annotations

import argparse
import json
import uuid
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.common.cli_client import (
    CliError,
    add_json_flag,
    make_console,
    new_table,
    or_none,
    percent,
    positive_int,
    print_json,
    print_table,
    register_admin_commands,
    report_validation,
    rfc3339,
    run_call,
    service_zone,
    share,
    show_time,
    validate_config,
    when_arg,
    window,
    zone_name,
)
from services.router.partners import cli as partners_cli
from skylane.common.v1 import types_pb2
from skylane.router.v1 import router_pb2, router_pb2_grpc

DEFAULT_ADDRESS = "127.0.0.1:50051"
TIMEOUT_S = 30.0
MODES = {
    "shadow": router_pb2.CANDIDATE_MODE_SHADOW,
    "rollout": router_pb2.CANDIDATE_MODE_ROLLOUT,
    "off": router_pb2.CANDIDATE_MODE_UNSPECIFIED,
}


def _window(args: argparse.Namespace, channel: grpc.Channel) -> tuple[types_pb2.TimeWindow, dict[str, Any]]:
    """--since/--until read in the router's time zone (its config's `timezone`); printed back the same way.
    Returns the proto window and its JSON form."""
    zone = service_zone(channel)
    since, until = window(args.since, args.until, zone)
    if not args.json:
        print(f"window {show_time(since, zone)} to {show_time(until, zone)}")
    start, end = Timestamp(), Timestamp()
    start.FromDatetime(since)
    end.FromDatetime(until)
    document = {"start": rfc3339(since), "end": rfc3339(until), "timezone": zone_name(zone)}
    return types_pb2.TimeWindow(start=start, end=end), document


def _key(value: str = "") -> types_pb2.IdempotencyKey:
    return types_pb2.IdempotencyKey(value=value or uuid.uuid4().hex)


def _dest(value: int) -> str:
    return router_pb2.Destination.Name(value).removeprefix("DESTINATION_")


def _mode(value: int) -> str | None:
    """shadow, rollout, or None when there is no candidate."""
    names: dict[int, str] = {router_pb2.CANDIDATE_MODE_SHADOW: "shadow", router_pb2.CANDIDATE_MODE_ROLLOUT: "rollout"}
    return names.get(value)


def state_document(s: router_pb2.PolicyState) -> dict[str, Any]:
    mode = _mode(s.mode) if s.candidate_version else None
    return {
        "champion_policy_version": s.champion_version,
        "candidate_policy_version": or_none(s.candidate_version),
        "candidate_mode": mode,
        "candidate_share": s.share if mode == "rollout" else None,
        "config_version": or_none(s.config_version),
    }


def candidate_text(version: str, mode: int, share_value: float) -> str:
    """'none' when there is no candidate; else 'policy <v> (shadow)' or 'policy <v> (rollout, share 0.10)'."""
    name = _mode(mode)
    if not version or name is None:
        return "none"
    return f"policy {version} (shadow)" if name == "shadow" else f"policy {version} (rollout, share {share_value:.2f})"


def _state_line(s: router_pb2.PolicyState) -> str:
    line = f"champion policy {s.champion_version}  candidate {candidate_text(s.candidate_version, s.mode, s.share)}"
    return line + (f"  (config version {s.config_version})" if s.config_version else "")


def _mix(mix: router_pb2.DecisionMix) -> dict[str, Any]:
    return {"by_tier": dict(sorted(mix.by_tier.items())), "by_destination": dict(sorted(mix.by_destination.items()))}


def _print_mix(title: str, mix: router_pb2.DecisionMix) -> None:
    tiers = ", ".join(f"{k} {v}" for k, v in sorted(mix.by_tier.items()))
    dests = ", ".join(f"{k} {v}" for k, v in sorted(mix.by_destination.items()))
    print(f"{title:<7} tiers: {tiers or '-'} | destinations: {dests or '-'}")


def _reasons(reasons: Any) -> list[dict[str, str]]:
    return [{"code": r.code, "message": r.message} for r in reasons]


def _sample(s: router_pb2.ChangedDecision) -> dict[str, Any]:
    return {
        "decision_id": s.decision_id,
        "tier_before": s.tier_before,
        "tier_after": s.tier_after,
        "destination_before": _dest(s.destination_before),
        "destination_after": _dest(s.destination_after),
        "score_before": s.score_before,
        "score_after": s.score_after,
        "reasons_before": _reasons(s.reasons_before),
        "reasons_after": _reasons(s.reasons_after),
    }


def _what_if(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        candidate = None if args.version else Path(args.candidate).read_text(encoding="utf-8")
        proto_window, window_doc = _window(args, channel)
        request = router_pb2.WhatIfRequest(window=proto_window, max_samples=args.samples)
        if candidate is None:
            request.version = args.version
        else:
            request.config_yaml = candidate
        result = router_pb2_grpc.RouterOpsServiceStub(channel).WhatIf(request, timeout=TIMEOUT_S)
        if args.json:
            print_json(
                {
                    "window": window_doc,
                    "candidate_policy_version": result.candidate_version,
                    "replayed": result.replayed,
                    "changed": result.changed,
                    "before": _mix(result.before),
                    "after": _mix(result.after),
                    "samples": [_sample(s) for s in result.samples],
                }
            )
            return
        print(
            f"candidate policy version {result.candidate_version}: replayed {result.replayed}, changed {result.changed}"
        )
        _print_mix("before", result.before)
        _print_mix("after", result.after)
        for s in result.samples:
            reasons = "; ".join(r.message for r in s.reasons_after)
            print(
                f"  {s.decision_id}: {s.tier_before} → {s.tier_after}, "
                f"{_dest(s.destination_before)} → {_dest(s.destination_after)} ({reasons})"
            )

    return run_call(args.address, call)


def policy_version_of(channel: grpc.Channel, config_yaml: str) -> str:
    """The policy version the router gives the `policy` block of a router.yaml: what-if over an empty window
    (nothing is replayed), so the server computes it exactly as what-if, shadow and activate will."""
    end = datetime.now(UTC)
    start_ts, end_ts = Timestamp(), Timestamp()
    start_ts.FromDatetime(end - timedelta(seconds=1))
    end_ts.FromDatetime(end)
    reply = router_pb2_grpc.RouterOpsServiceStub(channel).WhatIf(
        router_pb2.WhatIfRequest(
            window=types_pb2.TimeWindow(start=start_ts, end=end_ts), config_yaml=config_yaml, max_samples=1
        ),
        timeout=TIMEOUT_S,
    )
    return str(reply.candidate_version)


def _validate(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        reply = validate_config(channel, args.file)
        policy = policy_version_of(channel, Path(args.file).read_text(encoding="utf-8")) if reply.valid else ""
        report_validation(args, reply, policy=policy)

    return run_call(args.address, call)


def _version_row(v: router_pb2.PolicyVersionInfo) -> dict[str, Any]:
    return {
        "policy_version": v.version,
        "role": v.role,
        "source": v.source,
        "first_seen_at": rfc3339(v.first_seen_at),
        "acted": v.acted,
        "shadowed": v.shadowed,
        "agreed": v.agreed,
        "agreement": v.agreement if v.shadowed else None,  # no shadow decisions: nothing to agree with
        "acted_by_destination": dict(sorted(v.acted_by_destination.items())),
        "fallbacks": v.fallbacks,
    }


def _history_row(e: router_pb2.PolicyHistoryEntry) -> dict[str, Any]:
    mode = _mode(e.mode) if e.candidate_version else None
    return {
        "at": rfc3339(e.at),
        "action": e.action,
        "champion_policy_version": e.champion_version,
        "candidate_policy_version": or_none(e.candidate_version),
        "candidate_mode": mode,
        "candidate_share": e.share if mode == "rollout" else None,
    }


def _versions(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        zone = service_zone(channel)
        reply = router_pb2_grpc.RouterOpsServiceStub(channel).ListPolicyVersions(
            router_pb2.ListPolicyVersionsRequest(), timeout=TIMEOUT_S
        )
        history = list(reply.history)[: args.history]
        if args.json:
            print_json(
                {
                    "state": state_document(reply.state),
                    "versions": [_version_row(v) for v in reply.versions],
                    "history": [_history_row(e) for e in history],
                }
            )
            return
        _print_versions(reply, history, zone)

    return run_call(args.address, call)


def _print_versions(reply: router_pb2.ListPolicyVersionsResponse, history: list[Any], zone: tzinfo) -> None:
    console = make_console()
    print(_state_line(reply.state))
    table = new_table(
        "policy version", "role", "source", "acted", "shadowed", "agreement", "fallbacks", "first seen", left=3
    )
    for v in reply.versions:
        table.add_row(
            v.version,
            v.role,
            v.source,
            f"{v.acted:,}",
            f"{v.shadowed:,}",
            percent(v.agreement if v.shadowed else None),
            f"{v.fallbacks:,}",
            show_time(v.first_seen_at, zone) if v.first_seen_at.seconds else "-",
        )
    print_table(console, table)
    if history:
        changes = new_table("at", "action", "champion policy", "candidate", left=4, title="changes, newest first")
        for e in history:
            changes.add_row(
                show_time(e.at, zone),
                e.action,
                e.champion_version,
                candidate_text(e.candidate_version, e.mode, e.share),
            )
        print_table(console, changes)


def _candidate(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        request = router_pb2.SetCandidateRequest(
            idempotency_key=_key(args.idempotency_key), mode=MODES[args.mode], share=args.share
        )
        if args.mode != "off":
            if args.version:
                request.version = args.version
            elif args.file:
                request.config_yaml = Path(args.file).read_text(encoding="utf-8")
            else:
                raise CliError("candidate shadow/rollout needs --version or --file")
        state = router_pb2_grpc.RouterOpsServiceStub(channel).SetCandidate(request, timeout=TIMEOUT_S)
        if args.json:
            print_json(state_document(state))
        else:
            print(_state_line(state))

    return run_call(args.address, call)


def _activate(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        stub = router_pb2_grpc.RouterOpsServiceStub(channel)
        key = _key(args.idempotency_key)
        if args.version == "rollback":
            state = stub.RollbackPolicy(router_pb2.RollbackPolicyRequest(idempotency_key=key), timeout=TIMEOUT_S)
        else:
            state = stub.ActivatePolicyVersion(
                router_pb2.ActivatePolicyVersionRequest(idempotency_key=key, version=args.version), timeout=TIMEOUT_S
            )
        if args.json:
            print_json(state_document(state))
        else:
            print(_state_line(state))

    return run_call(args.address, call)


def _counts(rows: Any) -> list[dict[str, Any]]:
    return [{"key": c.key, "count": c.count, "share": c.share} for c in rows]


def _report(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        proto_window, window_doc = _window(args, channel)
        r = router_pb2_grpc.RouterOpsServiceStub(channel).GetRoutingReport(
            router_pb2.GetRoutingReportRequest(window=proto_window), timeout=TIMEOUT_S
        )
        groups = (("tier", r.by_tier), ("destination", r.by_destination), ("channel", r.by_channel), ("day", r.by_day))
        if args.json:
            print_json(
                {
                    "window": window_doc,
                    "total": r.total,
                    "sticky_repeats": r.sticky_repeats,
                    **{f"by_{title}": _counts(rows) for title, rows in groups},
                    "capacity": [
                        {"day": c.day, "product_id": c.product_id, "used": c.used, "cap": c.cap} for c in r.capacity
                    ],
                }
            )
            return
        console = make_console()
        print(f"decisions {r.total} (sticky repeats {r.sticky_repeats})")
        for title, rows in groups:
            table = new_table(title, "decisions", "share")
            for c in rows:
                table.add_row(c.key, f"{c.count:,}", percent(c.share))
            print_table(console, table)
        if r.capacity:
            table = new_table("in-house product", "day", "used", "daily cap", left=2)
            for c in r.capacity:
                table.add_row(c.product_id, c.day, f"{c.used:,}", f"{c.cap:,}")
            print_table(console, table)

    return run_call(args.address, call)


def decision_document(d: router_pb2.RoutingDecision) -> dict[str, Any]:
    partner = None
    if d.HasField("partner"):
        p = d.partner
        partner = {
            "lead_id": p.lead_id,
            "partner_id": or_none(p.partner_id),
            "price_fen": p.price.fen,
            "status": router_pb2.PartnerRoutingStatus.Name(p.status).removeprefix("PARTNER_ROUTING_STATUS_"),
        }
    return {
        "decision_id": d.decision_id,
        "channel": d.channel,
        "tier": d.tier,
        "score": d.score,
        "destination": _dest(d.destination),
        "product_id": or_none(d.product_id),
        "reasons": _reasons(d.reasons),
        "config_version": d.config_version,
        "policy_version": d.policy_version,
        "arm": router_pb2.PolicyArm.Name(d.arm).removeprefix("POLICY_ARM_"),
        "decided_at": rfc3339(d.decided_at),
        "sticky": d.sticky,
        "partner": partner,
    }


def _decision(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        zone = service_zone(channel)
        recorded = router_pb2_grpc.RouterServiceStub(channel).GetDecision(
            router_pb2.GetDecisionRequest(decision_id=args.decision_id), timeout=TIMEOUT_S
        )
        shadow = decision_document(recorded.shadow) if recorded.HasField("shadow") else None
        inputs = json.loads(recorded.inputs_json) if recorded.inputs_json else None
        if args.json:
            print_json({"decision": decision_document(recorded.decision), "shadow": shadow, "inputs": inputs})
            return
        for title, d in (("decision", recorded.decision), ("shadow", recorded.shadow if shadow else None)):
            if d is None:
                continue
            print(
                f"{title} {d.decision_id}: {d.channel} → tier {d.tier} (score {d.score}), {_dest(d.destination)}"
                f"{' ' + d.product_id if d.product_id else ''}, at {show_time(d.decided_at, zone)}"
            )
            arm = router_pb2.PolicyArm.Name(d.arm).removeprefix("POLICY_ARM_").lower()
            print(f"  policy version {d.policy_version} ({arm})")
            print(f"  config version {d.config_version}")
            for r in d.reasons:
                print(f"  {r.code}: {r.message}")
        if inputs is not None:
            print("inputs " + json.dumps(inputs, ensure_ascii=False, sort_keys=True))

    return run_call(args.address, call)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    router = commands.add_parser(
        "router",
        help="router ops: validate, what-if, versions, candidate, activate, report, decision, config, partners, "
        "dead-letters, simulate",
    )
    sub = router.add_subparsers(dest="router_command", required=True, metavar="ACTION")

    def parser(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--address", default=DEFAULT_ADDRESS, help=f"router gRPC address (default {DEFAULT_ADDRESS})")
        add_json_flag(p)
        return p

    def windowed(p: argparse.ArgumentParser) -> None:
        zone = "in the router's configured time zone unless it carries an offset"
        p.add_argument(
            "--since",
            type=when_arg,
            help=f"start: ISO date/time {zone}, today, yesterday or an age such as 36h (default: 24 h before --until)",
        )
        p.add_argument("--until", type=when_arg, help=f"end: as --since (default: now); times are {zone}")

    def keyed(p: argparse.ArgumentParser) -> None:
        p.add_argument("--idempotency-key", default="", help="reuse a key to retry the change safely (default: fresh)")

    # Admin: config, reload, validate (with the policy version of the file), probe.
    register_admin_commands(sub, "router", DEFAULT_ADDRESS, validate=_validate)

    p = parser("what-if", "replay recorded decisions under a candidate policy (changes nothing)")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--candidate", help="router.yaml whose `policy` block is the candidate")
    group.add_argument("--version", help="a known policy version")
    p.add_argument("--samples", type=positive_int, default=20, help="changed decisions to show (default 20)")
    windowed(p)
    p.set_defaults(handler=_what_if)

    p = parser("versions", "policy versions, their statistics and the change history")
    p.add_argument("--history", type=positive_int, default=10, help="changes to show, newest first (default 10)")
    p.set_defaults(handler=_versions)

    p = parser("candidate", "run a candidate policy in shadow, roll it out to a share, or switch it off")
    p.add_argument("mode", choices=list(MODES))
    p.add_argument("--file", help="router.yaml whose `policy` block becomes the candidate")
    p.add_argument("--version", help="a known policy version")
    p.add_argument("--share", type=share, default=0.0, help="rollout share 0..1")
    keyed(p)
    p.set_defaults(handler=_candidate)

    p = parser("activate", "make a policy version the champion ('rollback' restores the previous one)")
    p.add_argument("version", help="a policy version from `skylane router versions`, or 'rollback'")
    keyed(p)
    p.set_defaults(handler=_activate)

    p = parser("report", "routing counts by tier, destination, channel and day; in-house capacity")
    windowed(p)
    p.set_defaults(handler=_report)

    p = parser("decision", "one recorded decision: tier, destination, reasons, versions, its inputs and shadow")
    p.add_argument("decision_id")
    p.set_defaults(handler=_decision)

    # The partner side: `router partners report|trace`, `router dead-letters list|replay`, `router simulate`
    # and `skylane partner-sim`.
    partners_cli.register_ops(sub, DEFAULT_ADDRESS)
    partners_cli.register_simulate(sub)
    partners_cli.register(commands)
