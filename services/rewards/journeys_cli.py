"""`skylane rewards dry-run` and `skylane rewards follow-ups`: the dry run of draft triggers over history and
the follow-up list export (docs/journeys.md), both ops calls to a running rewards server."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc

from services.common.cli_client import (
    add_json_flag,
    make_console,
    new_table,
    positive_int,
    print_json,
    print_table,
    rfc3339,
    run_call,
)
from skylane.rewards.v1 import rewards_pb2, rewards_pb2_grpc

TIMEOUT_S = 120.0
FOLLOW_UP_COLUMNS = (
    "trigger_id",
    "campaign_id",
    "wave",
    "customer_ref",
    "entry",
    "kind",
    "reason",
    "at",
    "time_zone",
    "local_day",
)


def register(sub: Any, default_address: str) -> None:
    dry = sub.add_parser(
        "dry-run",
        help="replay the last days of recorded events through draft triggers, with no side effects",
        description="Replays rewards' recorded events of the last DAYS days (and growth's and the router's, "
        "when their addresses are configured) through the triggers of a draft file that is not live: entries, "
        "touches, waits by reason, routings, exits, the requested offers they would have displaced and the "
        "touches per customer per local day. Nothing is written.",
    )
    dry.add_argument("draft", type=Path, help="YAML file with a `triggers:` list (the config/rewards.yaml form)")
    dry.add_argument("--days", type=positive_int, default=14, help="days of history to replay (default 14)")
    dry.add_argument("--entries", action="store_true", help="also list every replayed entry")
    dry.add_argument("--address", default=default_address, help=f"rewards gRPC address (default {default_address})")
    add_json_flag(dry)
    dry.set_defaults(handler=_dry_run)

    follow = sub.add_parser(
        "follow-ups",
        help="export the follow-up list (wave 4 and touches routed past their validity) as CSV or JSON",
        description="Every customer put on the follow-up list in the span, oldest first: the trigger, the "
        "campaign, the customer's hashed reference (rewards holds no name, phone or ID number), why, when, and "
        "their time zone and local day.",
    )
    follow.add_argument("--since", type=_when, default=None, help="from (RFC 3339; default: 7 days ago)")
    follow.add_argument("--until", type=_when, default=None, help="until (RFC 3339; default: now)")
    follow.add_argument("--campaign", default="", help="only this campaign")
    follow.add_argument("--trigger", default="", help="only this trigger")
    follow.add_argument("--format", choices=("csv", "json"), default="csv", help="output format (default csv)")
    add_json_flag(follow, "the same as --format json")
    follow.add_argument("--out", type=Path, default=None, help="write to this file (default: standard output)")
    follow.add_argument("--address", default=default_address, help=f"rewards gRPC address (default {default_address})")
    follow.set_defaults(handler=_follow_ups)


def _when(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an RFC 3339 time, e.g. 2026-03-01T00:00:00+08:00") from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give a UTC offset, e.g. 2026-03-01T00:00:00+08:00")
    return value


# --- dry run ------------------------------------------------------------------------------------------


def dry_run_document(r: rewards_pb2.PreviewTriggersResponse) -> dict[str, Any]:
    return {
        "since": rfc3339(r.since),
        "until": rfc3339(r.until),
        "events_replayed": r.events_replayed,
        "triggers": [
            {
                "trigger_id": t.trigger_id,
                "campaign_id": t.campaign_id,
                "wave": t.wave,
                "entered": t.entered,
                "screened": t.screened,
                "held_out": t.held_out,
                "touched": t.touched,
                "would_have_touched": t.would_have_touched,
                "deferred": t.deferred,
                "deferred_by_reason": {d.reason: d.count for d in t.deferred_by_reason},
                "routed": t.routed,
                "exited": t.exited,
                "reentry_blocked": t.reentry_blocked,
                "follow_up": t.follow_up,
                "waiting": t.waiting,
            }
            for t in r.triggers
        ],
        "displaced": [{"source": d.source, "reason": d.reason, "count": d.count} for d in r.displaced],
        "touches_per_customer_day": {str(t.touches): t.customer_days for t in r.touches_per_customer_day},
        "max_touches_per_customer_day": r.max_touches_per_customer_day,
        "entries": [
            {
                "trigger_id": e.trigger_id,
                "customer_ref": e.customer.ref,
                "entry": e.entry,
                "fate": e.fate,
                "at": rfc3339(e.at),
                "local_day": e.local_day,
                "deferred_reasons": list(e.deferred_reasons),
            }
            for e in r.entries
        ],
        "notes": list(r.notes),
    }


def _dry_run(args: argparse.Namespace) -> int:
    draft = args.draft.read_text(encoding="utf-8")

    def call(channel: grpc.Channel) -> None:
        stub = rewards_pb2_grpc.RewardsServiceStub(channel)
        request = rewards_pb2.PreviewTriggersRequest(config_yaml=draft, days=args.days, list_entries=args.entries)
        doc = dry_run_document(stub.PreviewTriggers(request, timeout=TIMEOUT_S))
        if args.json:
            print_json(doc)
            return
        console = make_console()
        table = new_table(
            "trigger", "wave", "entered", "screened", "held out", "touched", "would have", "waited", "routed",
            "exited", "re-entry refused", "follow-up", "waiting",
            title=f"dry run {doc['since']} to {doc['until']}: {doc['events_replayed']:,} events",
        )  # fmt: skip
        for t in doc["triggers"]:
            waited = ", ".join(f"{k} {v}" for k, v in t["deferred_by_reason"].items())
            table.add_row(
                t["trigger_id"], str(t["wave"]), *(f"{t[k]:,}" for k in ("entered", "screened", "held_out", "touched")),
                f"{t['would_have_touched']:,}", f"{t['deferred']:,}" + (f" ({waited})" if waited else ""),
                *(f"{t[k]:,}" for k in ("routed", "exited", "reentry_blocked", "follow_up", "waiting")),
            )  # fmt: skip
        print_table(console, table)
        for d in doc["displaced"]:
            console.print(f"{d['source'].lower()} touches displaced ({d['reason']}): {d['count']:,}")
        per_day = ", ".join(f"{k}: {v:,}" for k, v in doc["touches_per_customer_day"].items())
        console.print(f"customer-days by touches: {per_day or 'none'}; most: {doc['max_touches_per_customer_day']}")
        for note in doc["notes"]:
            console.print(f"note: {note}")

    return run_call(args.address, call)


# --- follow-ups ---------------------------------------------------------------------------------------


def _follow_up_row(f: rewards_pb2.FollowUp) -> dict[str, Any]:
    return {
        "trigger_id": f.trigger_id,
        "campaign_id": f.campaign_id,
        "wave": f.wave,
        "customer_ref": f.customer.ref,
        "entry": f.entry,
        "kind": f.kind,
        "reason": f.reason,
        "at": rfc3339(f.at),
        "time_zone": f.time_zone,
        "local_day": f.local_day,
    }


def follow_ups(channel: grpc.Channel, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every page of the follow-up list."""
    stub = rewards_pb2_grpc.RewardsServiceStub(channel)
    until = args.until or datetime.now(UTC)
    request = rewards_pb2.ListFollowUpsRequest(campaign_id=args.campaign, trigger_id=args.trigger, page_size=1000)
    request.until.FromDatetime(until)
    request.since.FromDatetime(args.since or until - timedelta(days=7))
    rows: list[dict[str, Any]] = []
    while True:
        page = stub.ListFollowUps(request, timeout=TIMEOUT_S)
        rows += [_follow_up_row(f) for f in page.follow_ups]
        if not page.next_page_token:
            return rows
        request.page_token = page.next_page_token


def _follow_ups(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        rows = follow_ups(channel, args)
        out = args.out.open("w", encoding="utf-8", newline="") if args.out else sys.stdout
        try:
            if args.format == "json" or args.json:
                out.write(json.dumps({"follow_ups": rows}, ensure_ascii=False, indent=2) + "\n")
            else:
                writer = csv.DictWriter(out, fieldnames=FOLLOW_UP_COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
        finally:
            if args.out:
                out.close()

    return run_call(args.address, call)
