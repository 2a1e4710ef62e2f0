"""`skylane growth ...`: ops commands over the growth service's RPCs: a member's statement, maintenance
passes, corrections (reversals), level overrides, the event feed, and the Admin commands."""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime, tzinfo
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.common.cli_client import (
    TIME_FORMS,
    CliError,
    add_json_flag,
    make_console,
    new_table,
    or_none,
    positive_int,
    print_json,
    print_table,
    register_admin_commands,
    rfc3339,
    run_call,
    service_zone,
    show_time,
    when_arg,
)
from skylane.common.v1 import types_pb2
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc

DEFAULT_ADDRESS = "127.0.0.1:50052"
TIMEOUT_S = 30.0


def _when(value: Timestamp, zone: tzinfo) -> str:
    """A time in the growth service's configured time zone (the one its days, streaks and reviews use)."""
    if not value.seconds and not value.nanos:
        return "never"
    return show_time(value, zone)


def _key(value: str = "") -> types_pb2.IdempotencyKey:
    return types_pb2.IdempotencyKey(value=value or uuid.uuid4().hex)


def level_document(lv: growth_pb2.LevelProgress) -> dict[str, Any]:
    return {
        "level": lv.level,
        "earned_level": lv.earned_level,
        "window_growth": lv.window_growth,
        "next_level": or_none(lv.next_level),
        "growth_to_next": lv.growth_to_next if lv.next_level else None,
        "growth_to_keep": lv.growth_to_keep,
        "next_review_at": rfc3339(lv.next_review_at),
        "grace_until": rfc3339(lv.grace_until),
        "override_level": or_none(lv.override_level),
        "override_until": rfc3339(lv.override_until),
        "override_reason": or_none(lv.override_reason),
    }


def transaction_document(t: growth_pb2.LedgerTransaction) -> dict[str, Any]:
    return {
        "transaction_id": t.id,
        "kind": t.kind,
        "member": t.customer.ref,
        "points": t.points,
        "growth": t.growth,
        "posted_at": rfc3339(t.posted_at),
        "event_source": or_none(t.event_source),
        "event_id": or_none(t.event_id),
        "task_id": or_none(t.task_id),
        "config_version": or_none(t.config_version),
        "operator": or_none(t.operator),
        "reason": or_none(t.reason),
        "reverses": or_none(t.reverses),
    }


def statement_document(st: growth_pb2.Statement) -> dict[str, Any]:
    b = st.balance
    return {
        "member": b.customer.ref,
        "balance": {
            "points_available": b.points_available,
            "points_held": b.points_held,
            "points_pending": b.points_pending,
            "growth_total": b.growth_total,
            "level": b.level,
        },
        "level": level_document(st.level),
        "lots": [
            {
                "lot_id": lot.id,
                "original": lot.original,
                "remaining": lot.remaining,
                "expires_at": rfc3339(lot.expires_at),
                "created_at": rfc3339(lot.created_at),
                "transaction_id": lot.transaction_id,
            }
            for lot in st.lots
        ],
        "holds": [
            {
                "hold_id": h.id,
                "kind": h.kind,
                "points": h.points,
                "status": h.status,
                "expires_at": rfc3339(h.expires_at),
                "on_timeout": h.on_timeout,
                "reason": or_none(h.reason),
            }
            for h in st.holds
        ],
        "history": [transaction_document(t) for t in st.history],
        "next_page_token": or_none(st.page.next_page_token),
    }


def _statement(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        zone = service_zone(channel)
        request = growth_pb2.GetStatementRequest(
            customer=types_pb2.CustomerRef(ref=args.member),
            page=types_pb2.PageRequest(page_size=args.history, page_token=args.page_token),
        )
        st = growth_pb2_grpc.GrowthServiceStub(channel).GetStatement(request, timeout=TIMEOUT_S)
        if args.json:
            print_json(statement_document(st))
            return
        _print_statement(args.member, st, zone)

    return run_call(args.address, call)


def _print_statement(member: str, st: growth_pb2.Statement, zone: tzinfo) -> None:
    b, lv = st.balance, st.level
    print(f"member {member}  level {b.level} (earned {lv.earned_level})")
    print(f"points  available {b.points_available}  held {b.points_held}  pending {b.points_pending}")
    print(f"growth  total {b.growth_total}  in window {lv.window_growth}")
    if lv.next_level:
        print(f"next    {lv.next_level} in {lv.growth_to_next} growth; {lv.growth_to_keep} more to keep {lv.level}")
    print(
        f"review  {_when(lv.next_review_at, zone)}"
        + (f"  grace until {_when(lv.grace_until, zone)}" if lv.grace_until.seconds else "")
    )
    if lv.override_level:
        print(f"override {lv.override_level} until {_when(lv.override_until, zone)}: {lv.override_reason}")
    console = make_console()
    if st.lots:
        lots = new_table("lot", "remaining", "of", "expires", title="lots")
        for lot in st.lots:
            lots.add_row(lot.id, f"{lot.remaining:,}", f"{lot.original:,}", _when(lot.expires_at, zone))
        print_table(console, lots)
    else:
        print("lots: none")
    if st.holds:
        holds = new_table("hold", "kind", "points", "status", "until", left=2, title="holds")
        for hold in st.holds:
            holds.add_row(hold.id, hold.kind, f"{hold.points:,}", hold.status, _when(hold.expires_at, zone))
        print_table(console, holds)
    if not st.history:
        print("history: none")
        return
    history = new_table("transaction", "posted", "kind", "points", "growth", "origin", title="history (newest first)")
    history.columns[-1].justify = "left"
    for t in st.history:
        origin = t.task_id or t.reason or t.operator or "-"
        history.add_row(t.id, _when(t.posted_at, zone), t.kind, f"{t.points:+d}", f"{t.growth:+d}", origin)
    print_table(console, history)
    if st.page.next_page_token:
        print(f"more: --page-token {st.page.next_page_token}")


def _maintenance(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        key = _key(args.idempotency_key)
        done = growth_pb2_grpc.GrowthOpsServiceStub(channel).RunMaintenance(
            growth_pb2.RunMaintenanceRequest(idempotency_key=key), timeout=TIMEOUT_S
        )
        if args.json:
            print_json(
                {
                    "lots_expired": done.lots_expired,
                    "holds_timed_out": done.holds_timed_out,
                    "warnings_emitted": done.warnings_emitted,
                    "level_changes": done.level_changes,
                    "idempotency_key": key.value,
                }
            )
            return
        print(
            f"lots expired {done.lots_expired}, holds timed out {done.holds_timed_out}, "
            f"expiry warnings {done.warnings_emitted}, level changes {done.level_changes} (key {key.value})"
        )

    return run_call(args.address, call)


def _reverse(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        key = _key(args.idempotency_key)
        t = growth_pb2_grpc.GrowthOpsServiceStub(channel).ReverseTransaction(
            growth_pb2.ReverseTransactionRequest(
                idempotency_key=key, transaction_id=args.transaction_id, reason=args.reason, operator=args.operator
            ),
            timeout=TIMEOUT_S,
        )
        if args.json:
            print_json({**transaction_document(t), "idempotency_key": key.value})
            return
        print(
            f"reversed {t.reverses}: transaction {t.id} points {t.points:+d} growth {t.growth:+d} "
            f"by {t.operator} ({t.reason}; key {key.value})"
        )

    return run_call(args.address, call)


def _override(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        zone = service_zone(channel)
        until = args.until.at(zone, datetime.now(UTC))
        if until <= datetime.now(UTC):
            raise CliError(f"--until ({show_time(until, zone)}) must be in the future")
        stamp = Timestamp()
        stamp.FromDatetime(until.astimezone(UTC))
        key = _key(args.idempotency_key)
        lv = growth_pb2_grpc.GrowthOpsServiceStub(channel).SetLevelOverride(
            growth_pb2.SetLevelOverrideRequest(
                idempotency_key=key,
                customer=types_pb2.CustomerRef(ref=args.member),
                level=args.level,
                reason=args.reason,
                until=stamp,
                operator=args.operator,
            ),
            timeout=TIMEOUT_S,
        )
        if args.json:
            print_json({"member": args.member, **level_document(lv), "idempotency_key": key.value})
            return
        print(
            f"member {args.member}: level {lv.level} (earned {lv.earned_level}), override {lv.override_level} "
            f"until {_when(lv.override_until, zone)}"
        )

    return run_call(args.address, call)


def _events(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        request = growth_pb2.ListEventsRequest(after_sequence=args.after, limit=args.limit)
        if args.member:
            request.customer.ref = args.member
        reply = growth_pb2_grpc.GrowthOpsServiceStub(channel).ListEvents(request, timeout=TIMEOUT_S)
        events = list(reply.events)
        last = events[-1].sequence if events else args.after
        if args.json:
            rows = [
                {
                    "sequence": e.sequence,
                    "type": e.type,
                    "member": e.customer.ref,
                    "emitted_at": rfc3339(e.emitted_at),
                    "data": dict(sorted(e.data.items())),
                }
                for e in events
            ]
            print_json({"events": rows, "last_sequence": last})
            return
        if not events:
            print(f"no events after sequence {args.after}")
            return
        zone = service_zone(channel)
        table = new_table("sequence", "emitted", "type", "member", "data", left=0)
        for column in table.columns[1:]:
            column.justify = "left"
        for e in events:
            data = ", ".join(f"{k}={v}" for k, v in sorted(e.data.items()))
            table.add_row(str(e.sequence), show_time(e.emitted_at, zone), e.type, e.customer.ref, data)
        print_table(make_console(), table)
        print(f"next: --after {last}")

    return run_call(args.address, call)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `skylane growth statement|maintenance|reverse|override|events|config|reload|validate|probe`."""
    growth = commands.add_parser(
        "growth", help="growth service ops: statements, maintenance, reversals, level overrides, events, config"
    )
    sub = growth.add_subparsers(dest="growth_command", required=True, metavar="ACTION")

    def parser(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--address", default=DEFAULT_ADDRESS, help=f"growth server (default {DEFAULT_ADDRESS})")
        add_json_flag(p)
        return p

    def keyed(p: argparse.ArgumentParser, what: str) -> None:
        p.add_argument("--idempotency-key", default="", help=f"reuse a key to retry {what} safely (default: fresh)")

    statement = parser("statement", "a member's balances, level progress, lots, holds and recent history")
    statement.add_argument("--member", required=True, help="the member's customer reference (hashed, opaque)")
    statement.add_argument(
        "--history", type=positive_int, default=20, help="how many recent transactions to show (default 20)"
    )
    statement.add_argument("--page-token", default="", help="the next page of history (from a previous statement)")
    statement.set_defaults(handler=_statement)

    maintenance = parser("maintenance", "run one pass of expiry, hold timeouts, expiry warnings and level reviews now")
    keyed(maintenance, "a pass")
    maintenance.set_defaults(handler=_maintenance)

    reverse = parser("reverse", "post the reversal of an earn or a spend (corrections never edit entries)")
    reverse.add_argument("transaction_id", help="the transaction to reverse (from a statement)")
    reverse.add_argument("--reason", required=True, help="why (recorded on the reversal)")
    reverse.add_argument("--operator", required=True, help="who (recorded on the reversal)")
    keyed(reverse, "the reversal")
    reverse.set_defaults(handler=_reverse)

    override = parser("override", "hold a member at a level or above until a date (a level floor)")
    override.add_argument("--member", required=True, help="the member's customer reference")
    override.add_argument("--level", required=True, help="level id, e.g. gold")
    override.add_argument("--until", required=True, type=when_arg, help=f"end of the floor: {TIME_FORMS}")
    override.add_argument("--reason", required=True, help="why")
    override.add_argument("--operator", required=True, help="who")
    keyed(override, "the override")
    override.set_defaults(handler=_override)

    events = parser("events", "the growth event feed: expiry warnings, expiries, level changes, grace periods")
    events.add_argument("--after", type=int, default=0, help="only events after this sequence number (default 0)")
    events.add_argument("--limit", type=positive_int, default=100, help="at most this many (default 100, max 1000)")
    events.add_argument("--member", default="", help="only this member's events")
    events.set_defaults(handler=_events)

    register_admin_commands(sub, "growth", DEFAULT_ADDRESS)
