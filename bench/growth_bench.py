"""Growth service benchmark (not a test).

1. RecordActivity and GetBalance throughput against a real `skylane serve growth` process, driven
   from a separate load process, reported as a ratio to a no-op grpc.aio handler measured in the
   same run.
2. GetBalance latency with 1 thousand and with 1 million ledger entries in the database: the ledger
   is seeded directly with bulk SQL into a temporary SQLite file, then read over gRPC. Balances are
   kept in a balance row per member and asset, so the latency should not grow with the ledger.

    .venv/bin/python -m bench.growth_bench [--seconds 5] [--concurrency 32] [--entries 1000 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import yaml

from bench.harness import REPO, drive, noop_process, report, service_process
from skylane.common.v1 import types_pb2
from skylane.growth.v1 import growth_pb2, growth_pb2_grpc

MEMBERS = 256
SEEDED_MEMBERS = 1000


def member(i: int) -> str:
    return f"bench_member_{i % MEMBERS:05d}"


def seeded_member(i: int) -> str:
    return f"seeded_member_{i % SEEDED_MEMBERS:05d}"


FUND_POINTS = 100_000_000  # each bench member's starting points, for SpendPoints and RedeemRight
BENCH_RIGHT = "bench_voucher"


def bench_config(directory: Path) -> Path:
    """The default programme plus one uncapped task, so every RecordActivity posts a transaction; a funding
    task (one large award per member, for SpendPoints and RedeemRight); and a right any member can redeem
    without quota or running out of stock."""
    document = yaml.safe_load((REPO / "config" / "growth.yaml").read_text(encoding="utf-8"))
    document["tasks"].append({"id": "bench_purchase", "event_type": "bench_purchase", "points": 10, "growth": 1})
    document["tasks"].append(
        {
            "id": "bench_fund",
            "event_type": "bench_fund",
            "points": FUND_POINTS,
            "growth": 0,
            "apply_level_multiplier": False,
        }
    )
    document["rights"].append(
        {
            "id": BENCH_RIGHT,
            "name": "bench voucher",
            "category": "other",
            "points_price": 1,
            "stock": 10**12,
            "min_level": document["levels"]["tiers"][0]["id"],
            "validity_days": 30,
        }
    )
    path = directory / "growth.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


async def prepare_members(channel: grpc.aio.Channel) -> None:
    stub = growth_pb2_grpc.GrowthServiceStub(channel)
    for i in range(MEMBERS):
        await stub.EnrollMember(
            growth_pb2.EnrollMemberRequest(
                idempotency_key=types_pb2.IdempotencyKey(value=f"enroll-{i}"),
                customer=types_pb2.CustomerRef(ref=member(i)),
            )
        )


async def prepare_funded_members(channel: grpc.aio.Channel) -> None:
    """Enrols the bench members and gives each FUND_POINTS (idempotent: a second run replays)."""
    await prepare_members(channel)
    stub = growth_pb2_grpc.GrowthServiceStub(channel)
    for i in range(MEMBERS):
        request = growth_pb2.RecordActivityRequest(
            idempotency_key=types_pb2.IdempotencyKey(value=f"fund-{i}"),
            customer=types_pb2.CustomerRef(ref=member(i)),
            activity=growth_pb2.Activity(source="bench", id=f"fund-{i}", type="bench_fund"),
        )
        request.activity.occurred_at.FromDatetime(datetime.now(UTC))
        await stub.RecordActivity(request)


async def spend_points(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    await growth_pb2_grpc.GrowthServiceStub(channel).SpendPoints(
        growth_pb2.SpendPointsRequest(
            idempotency_key=types_pb2.IdempotencyKey(value=uuid.uuid4().hex),
            customer=types_pb2.CustomerRef(ref=member(worker * 997 + seq)),
            points=1,
            reason="bench",
        )
    )


async def redeem_right(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    await growth_pb2_grpc.GrowthServiceStub(channel).RedeemRight(
        growth_pb2.RedeemRightRequest(
            idempotency_key=types_pb2.IdempotencyKey(value=uuid.uuid4().hex),
            customer=types_pb2.CustomerRef(ref=member(worker * 997 + seq)),
            right_id=BENCH_RIGHT,
        )
    )


def balance_body() -> bytes:
    """One GetBalance request (h2load sends the same body on every call: a point read of one member)."""
    return growth_pb2.GetBalanceRequest(customer=types_pb2.CustomerRef(ref=member(0))).SerializeToString()


def record_activity_body() -> bytes:
    """One RecordActivity request for h2load against the floor server (which makes each event id unique)."""
    request = growth_pb2.RecordActivityRequest(
        idempotency_key=types_pb2.IdempotencyKey(value=uuid.uuid4().hex),
        customer=types_pb2.CustomerRef(ref=member(0)),
        activity=growth_pb2.Activity(
            source="bench", id=uuid.uuid4().hex, type="bench_purchase", attributes={"amount_fen": "5000"}
        ),
    )
    request.activity.occurred_at.FromDatetime(datetime.now(UTC))
    return request.SerializeToString()


async def record_activity(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    now = datetime.now(UTC)
    request = growth_pb2.RecordActivityRequest(
        idempotency_key=types_pb2.IdempotencyKey(value=uuid.uuid4().hex),
        customer=types_pb2.CustomerRef(ref=member(worker * 997 + seq)),
        activity=growth_pb2.Activity(
            source="bench", id=uuid.uuid4().hex, type="bench_purchase", attributes={"amount_fen": "5000"}
        ),
    )
    request.activity.occurred_at.FromDatetime(now)
    await growth_pb2_grpc.GrowthServiceStub(channel).RecordActivity(request)


async def get_balance(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    await growth_pb2_grpc.GrowthServiceStub(channel).GetBalance(
        growth_pb2.GetBalanceRequest(customer=types_pb2.CustomerRef(ref=member(worker * 31 + seq)))
    )


async def get_seeded_balance(channel: grpc.aio.Channel, worker: int, seq: int) -> None:
    await growth_pb2_grpc.GrowthServiceStub(channel).GetBalance(
        growth_pb2.GetBalanceRequest(customer=types_pb2.CustomerRef(ref=seeded_member(worker * 31 + seq)))
    )


def migrate(url: str) -> None:
    from services.common.db import Database
    from services.common.migrations import upgrade

    async def run() -> None:
        db = Database(url)
        try:
            await upgrade(db, REPO / "services" / "growth" / "migrations")
        finally:
            await db.dispose()

    asyncio.run(run())


def seed_ledger(path: Path, entries: int) -> None:
    """Bulk-inserts earn transactions (2 entries each: member +n, issuance -n), lots and balances."""
    migrate(f"sqlite+aiosqlite:///{path}")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA journal_mode=WAL")
    start = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    expires = (start + timedelta(days=730)).isoformat(sep=" ")
    transactions = entries // 2
    totals = [0] * SEEDED_MEMBERS
    batch = 50_000
    for first in range(1, transactions + 1, batch):
        ids = range(first, min(first + batch, transactions + 1))
        txns: list[tuple[object, ...]] = []
        rows: list[tuple[object, ...]] = []
        lots: list[tuple[object, ...]] = []
        for txn_id in ids:
            i = txn_id % SEEDED_MEMBERS
            who = seeded_member(i)
            posted = (start + timedelta(seconds=txn_id)).isoformat(sep=" ")
            txns.append((txn_id, "earn", who, 10, 0, posted, "bench", f"seed-{txn_id}", "bench_purchase", "seed"))
            rows.append((txn_id, who, "available", "points", 10, txn_id))
            rows.append((txn_id, None, "issuance", "points", -10, None))
            lots.append((txn_id, who, "earn", 10, 10, 0, expires, posted, txn_id))
            totals[i] += 10
        conn.executemany(
            "INSERT INTO transactions (id, kind, member, points, growth, posted_at, event_source, event_id, "
            "task_id, config_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            txns,
        )
        conn.executemany(
            "INSERT INTO entries (txn_id, member, account, asset, amount, lot_id) VALUES (?, ?, ?, ?, ?, ?)", rows
        )
        conn.executemany(
            "INSERT INTO lots (id, member, kind, original, remaining, expired, expires_at, created_at, txn_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            lots,
        )
    enrolled = start.isoformat(sep=" ")
    conn.executemany(
        "INSERT INTO members (customer, level, enrolled_at) VALUES (?, 'blue', ?)",
        [(seeded_member(i), enrolled) for i in range(SEEDED_MEMBERS)],
    )
    conn.executemany(
        "INSERT INTO balances (member, asset, available, held, pending) VALUES (?, ?, ?, 0, 0)",
        [
            (seeded_member(i), asset, totals[i] if asset == "points" else 0)
            for i in range(SEEDED_MEMBERS)
            for asset in ("points", "growth")
        ],
    )
    conn.commit()
    counted = conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
    conn.close()
    print(f"seeded {counted:,} ledger entries for {SEEDED_MEMBERS} members into {path.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--entries", type=int, nargs="+", default=[1_000, 1_000_000])
    args = parser.parse_args()

    with noop_process() as address:
        baseline = drive(address, "bench.harness:noop_call", concurrency=args.concurrency, seconds=args.seconds)

    rows = []
    with tempfile.TemporaryDirectory(prefix="growth-bench-") as tmp:
        config = bench_config(Path(tmp))
        with service_process("growth", config_path=config) as address:
            rows.append(
                (
                    "RecordActivity (1 earn transaction per call)",
                    drive(
                        address,
                        "bench.growth_bench:record_activity",
                        concurrency=args.concurrency,
                        seconds=args.seconds,
                        prepare="bench.growth_bench:prepare_members",
                    ),
                )
            )
            rows.append(
                (
                    "GetBalance",
                    drive(
                        address, "bench.growth_bench:get_balance", concurrency=args.concurrency, seconds=args.seconds
                    ),
                )
            )
        for size in args.entries:
            db = Path(tmp) / f"ledger_{size}.db"
            seed_ledger(db, size)
            env = {"SKYLANE_GROWTH_DB_URL": f"sqlite+aiosqlite:///{db}"}
            with service_process("growth", config_path=config, env=env) as address:
                # Low concurrency: this row is about per-read latency, not throughput.
                stats = drive(address, "bench.growth_bench:get_seeded_balance", concurrency=4, seconds=args.seconds)
            rows.append((f"GetBalance latency, {size:,} ledger entries (concurrency 4)", stats))

    report(
        "growth",
        baseline,
        rows,
        notes={
            "ledger_sizes": args.entries,
            "seeded_members": SEEDED_MEMBERS,
            "expectation": "GetBalance p50 at 1M entries ~= at 1k entries (balance rows, one indexed read)",
        },
    )


if __name__ == "__main__":
    main()
