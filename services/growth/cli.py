"""`skylane growth ...`: ops commands over the growth service's RPCs (a member's statement, a maintenance pass)."""

from __future__ import annotations

import argparse
import uuid
from datetime import tzinfo

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from services.common.cli_client import positive_int, run_call, service_zone, show_time
from skylane.common.v1 import types_pb2
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc

DEFAULT_ADDRESS = "127.0.0.1:50052"
TIMEOUT_S = 30.0


def _when(value: Timestamp, zone: tzinfo) -> str:
    """A time in the growth service's configured time zone (the one its days, streaks and reviews use)."""
    if not value.seconds and not value.nanos:
        return "never"
    return show_time(value, zone)


def _statement(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        zone = service_zone(channel)
        request = growth_pb2.GetStatementRequest(
            customer=types_pb2.CustomerRef(ref=args.member), page=types_pb2.PageRequest(page_size=args.history)
        )
        st = growth_pb2_grpc.GrowthServiceStub(channel).GetStatement(request, timeout=TIMEOUT_S)
        b, lv = st.balance, st.level
        print(f"member {args.member}  level {b.level} (earned {lv.earned_level})")
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
        print("lots:" if st.lots else "lots: none")
        for lot in st.lots:
            print(f"  lot {lot.id:>8}  {lot.remaining:>8} of {lot.original:<8} expires {_when(lot.expires_at, zone)}")
        for hold in st.holds:
            until = _when(hold.expires_at, zone)
            print(f"  hold {hold.id} {hold.kind} {hold.points} points, {hold.status}, until {until}")
        print("history (newest first):" if st.history else "history: none")
        for t in st.history:
            origin = t.task_id or t.reason or t.operator or "-"
            posted = _when(t.posted_at, zone)
            print(f"  #{t.id:>8} {posted}  {t.kind:<8} points {t.points:+d} growth {t.growth:+d}  {origin}")

    return run_call(args.address, call)


def _maintenance(args: argparse.Namespace) -> int:
    def call(channel: grpc.Channel) -> None:
        key = types_pb2.IdempotencyKey(value=args.idempotency_key or uuid.uuid4().hex)
        done = growth_pb2_grpc.GrowthOpsServiceStub(channel).RunMaintenance(
            growth_pb2.RunMaintenanceRequest(idempotency_key=key), timeout=TIMEOUT_S
        )
        print(
            f"lots expired {done.lots_expired}, holds timed out {done.holds_timed_out}, "
            f"expiry warnings {done.warnings_emitted}, level changes {done.level_changes} (key {key.value})"
        )

    return run_call(args.address, call)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `skylane growth statement` and `skylane growth maintenance`."""
    growth = commands.add_parser("growth", help="growth service ops: member statements, maintenance passes")
    sub = growth.add_subparsers(dest="growth_command", required=True)

    statement = sub.add_parser(
        "statement", help="print a member's balances, level progress, lots, holds and recent history"
    )
    statement.add_argument("--member", required=True, help="the member's customer reference (hashed, opaque)")
    statement.add_argument(
        "--history", type=positive_int, default=20, help="how many recent transactions to show (default 20)"
    )
    statement.add_argument("--address", default=DEFAULT_ADDRESS, help=f"growth server (default {DEFAULT_ADDRESS})")
    statement.set_defaults(handler=_statement)

    maintenance = sub.add_parser(
        "maintenance", help="run one pass of expiry, hold timeouts, expiry warnings and level reviews now"
    )
    maintenance.add_argument("--address", default=DEFAULT_ADDRESS, help=f"growth server (default {DEFAULT_ADDRESS})")
    maintenance.add_argument(
        "--idempotency-key", default="", help="reuse a key to retry a pass safely (default: a fresh key)"
    )
    maintenance.set_defaults(handler=_maintenance)
