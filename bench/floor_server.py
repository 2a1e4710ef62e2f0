"""The floor of "a durable write / a point read in this stack": a bare grpc.aio server that serves
skylane.growth.v1.GrowthService RecordActivity / GetBalance / EnrollMember with the real protos and
nothing else: no edge, no SQLAlchemy, no idempotency, no ledger logic, one row per RecordActivity.

- SQLite (`--db FILE`): stdlib sqlite3 inline on the loop (WAL, synchronous=FULL) and group commit:
  the requests that arrive within the arrival window are inserted with one executemany and committed
  (fsync) together before anyone is answered.
- PostgreSQL (`--pg DSN`): asyncpg. `--pg-mode batch` (default) is the same group commit, one
  executemany + COMMIT per window, pipelined on `--pg-writers` connections (a batch is cut while the
  previous one commits); `--pg-mode pool` runs one INSERT (its own transaction, synchronous_commit on)
  per call on a connection pool, PostgreSQL grouping the WAL flushes.

It counts its calls by status code like the services (skylane_grpc_requests_total on a metrics port of
its own) and prints the same start-up line, so the suite measures it exactly like a service.

    python -m bench.floor_server --db FILE [--unique] [--window-ms 1]
    python -m bench.floor_server --pg postgresql://user@host:port/db [--pg-mode batch|pool] [--unique]

--unique gives each RecordActivity a server-side sequence as event id (h2load repeats one body).
Reproduced from ../shared/bench/floor_server.py (the issue's measurement) minus its --interceptors
option, whose interceptor classes the services no longer have (services/common/edge.py replaced them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from bench.harness import CallCounter, announce
from skylane.growth.v1 import growth_pb2

Row = tuple[str, str, str, str, str, int]
CREATE_ACTIVITIES = (
    "CREATE TABLE IF NOT EXISTS activities (source TEXT, event_id TEXT, customer TEXT, type TEXT, "
    "key TEXT, points INTEGER, PRIMARY KEY (source, event_id))"
)
CREATE_BALANCES = "CREATE TABLE IF NOT EXISTS balances (customer TEXT PRIMARY KEY, points INTEGER)"


class Floor:
    """What every storage variant shares: the request → row mapping, the sequence and the answers."""

    def __init__(self, unique: bool) -> None:
        self.unique = unique
        self.seq = 0
        self.batches = self.rows = 0

    def row(self, request: growth_pb2.RecordActivityRequest) -> Row:
        a = request.activity
        self.seq += 1
        event_id = f"{a.id}-{self.seq}" if self.unique else a.id
        return (a.source, event_id, request.customer.ref, a.type, request.idempotency_key.value, 10)

    @staticmethod
    def recorded(request: growth_pb2.RecordActivityRequest) -> growth_pb2.RecordActivityResponse:
        return growth_pb2.RecordActivityResponse(
            awards=[
                growth_pb2.Award(task_id="bench_purchase", customer=request.customer, points=10, growth=1, kind="earn")
            ],
            config_version="floor",
            level="blue",
        )

    @staticmethod
    def balance_of(request: growth_pb2.GetBalanceRequest, points: int) -> growth_pb2.Balance:
        return growth_pb2.Balance(customer=request.customer, points_available=points, level="blue")


def statement_tables(statements: int) -> list[str]:
    """The tables of a --statements K floor: one per statement, each keyed by the event and indexed by
    customer, as a service's rows are (a primary key and a secondary index per table)."""
    return [f"unit_{i}" for i in range(statements)]


class SqliteFloor(Floor):
    def __init__(self, path: str, unique: bool, window_s: float, statements: int = 0) -> None:
        super().__init__(unique)
        self.statements = statement_tables(statements)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(CREATE_ACTIVITIES)
        self.db.execute(CREATE_BALANCES)
        for table in self.statements:
            self.db.execute(
                f"CREATE TABLE IF NOT EXISTS {table} (source TEXT, event_id TEXT, customer TEXT, "
                "type TEXT, key TEXT, points INTEGER, PRIMARY KEY (source, event_id))"
            )
            self.db.execute(f"CREATE INDEX IF NOT EXISTS {table}_customer ON {table} (customer)")
        self.pending: list[tuple[Row, asyncio.Future[None]]] = []
        self.scheduled = False
        self.window_s = window_s

    async def start(self) -> None:
        return None

    def flush(self) -> None:
        batch, self.pending, self.scheduled = self.pending, [], False
        try:
            self.db.execute("BEGIN IMMEDIATE")
            if self.statements:
                self.units([p for p, _ in batch])
            else:
                self.db.executemany("INSERT OR IGNORE INTO activities VALUES (?, ?, ?, ?, ?, ?)", [p for p, _ in batch])
            self.db.execute("COMMIT")  # synchronous=FULL: fsync of the WAL before anyone is answered
        except Exception as exc:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        self.batches += 1
        self.rows += len(batch)
        for _, fut in batch:
            if not fut.done():  # a caller that went away (cancelled) is skipped
                fut.set_result(None)

    def units(self, rows: list[Row]) -> None:
        """Each call as a service writes it: its own savepoint in the shared transaction, one statement
        per table (K round trips into SQLite), so one failing call would roll back only itself."""
        execute = self.db.execute
        inserts = [f"INSERT OR IGNORE INTO {table} VALUES (?, ?, ?, ?, ?, ?)" for table in self.statements]
        for row in rows:
            execute("SAVEPOINT unit")
            for insert in inserts:
                execute(insert, row)
            execute("RELEASE unit")

    async def record(
        self, request: growth_pb2.RecordActivityRequest, context: Any
    ) -> growth_pb2.RecordActivityResponse:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self.pending.append((self.row(request), fut))
        if not self.scheduled:
            self.scheduled = True
            if self.window_s:  # let concurrent arrivals join the batch (inline commits block the loop)
                loop.call_later(self.window_s, self.flush)
            else:
                loop.call_soon(self.flush)
        await fut
        return self.recorded(request)

    async def balance(self, request: growth_pb2.GetBalanceRequest, context: Any) -> growth_pb2.Balance:
        row = self.db.execute("SELECT points FROM balances WHERE customer = ?", (request.customer.ref,)).fetchone()
        return self.balance_of(request, row[0] if row else 0)

    async def enroll(self, request: growth_pb2.EnrollMemberRequest, context: Any) -> growth_pb2.Member:
        self.db.execute("INSERT OR IGNORE INTO balances VALUES (?, 100)", (request.customer.ref,))
        return growth_pb2.Member()


class PostgresFloor(Floor):
    INSERT = "INSERT INTO activities VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"

    def __init__(self, dsn: str, unique: bool, window_s: float, mode: str, writers: int) -> None:
        super().__init__(unique)
        self.dsn, self.window_s, self.mode, self.writers = dsn, window_s, mode, writers
        self.pending: list[tuple[Row, asyncio.Future[None]]] = []
        self.wake = asyncio.Event()
        self.pool: Any = None
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(self.dsn, min_size=4, max_size=16)
        async with self.pool.acquire() as conn:
            await conn.execute(CREATE_ACTIVITIES.replace("INTEGER", "BIGINT"))
            await conn.execute(CREATE_BALANCES.replace("INTEGER", "BIGINT"))
        if self.mode == "batch":
            writers = [await asyncpg.connect(self.dsn) for _ in range(self.writers)]
            self.tasks = [asyncio.create_task(self._flusher(writer)) for writer in writers]

    async def _flusher(self, writer: Any) -> None:
        """One writer connection: waits for arrivals, lets the window fill, commits what is pending. With
        several writers a batch is cut while the previous one is still committing (pipelined group commit)."""
        while True:
            while not self.pending:
                self.wake.clear()
                await self.wake.wait()
            if self.window_s:
                await asyncio.sleep(self.window_s)
            batch, self.pending = self.pending, []
            if not batch:
                continue
            try:
                async with writer.transaction():
                    await writer.executemany(self.INSERT, [p for p, _ in batch])
            except Exception as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.batches += 1
            self.rows += len(batch)
            for _, fut in batch:
                if not fut.done():
                    fut.set_result(None)

    async def record(
        self, request: growth_pb2.RecordActivityRequest, context: Any
    ) -> growth_pb2.RecordActivityResponse:
        if self.mode == "pool":
            await self.pool.execute(self.INSERT, *self.row(request))
            self.rows += 1
            return self.recorded(request)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.pending.append((self.row(request), fut))
        self.wake.set()
        await fut
        return self.recorded(request)

    async def balance(self, request: growth_pb2.GetBalanceRequest, context: Any) -> growth_pb2.Balance:
        points = await self.pool.fetchval("SELECT points FROM balances WHERE customer = $1", request.customer.ref)
        return self.balance_of(request, points or 0)

    async def enroll(self, request: growth_pb2.EnrollMemberRequest, context: Any) -> growth_pb2.Member:
        await self.pool.execute("INSERT INTO balances VALUES ($1, 100) ON CONFLICT DO NOTHING", request.customer.ref)
        return growth_pb2.Member()


Handler = Callable[[Any, Any], Awaitable[Any]]


def counted(counter: CallCounter, method: str, handler: Handler) -> Handler:
    """The handler, counting its outcome as the services' edge does (OK, or the code it failed with)."""
    ok = (method, "OK")
    counter.counts[ok] = 0

    async def call(request: Any, context: Any) -> Any:
        try:
            reply = await handler(request, context)
        except asyncio.CancelledError:
            counter.add(method, "CANCELLED")
            raise
        except Exception:
            counter.add(method, "UNKNOWN")
            raise
        counter.counts[ok] += 1
        return reply

    return call


async def serve(args: argparse.Namespace) -> None:
    window_s = args.window_ms / 1000
    floor: SqliteFloor | PostgresFloor
    if args.pg:
        floor = PostgresFloor(args.pg, args.unique, window_s, args.pg_mode, args.pg_writers)
    else:
        floor = SqliteFloor(args.db, args.unique, window_s, args.statements)
    await floor.start()
    counter = CallCounter("floor")
    server = grpc.aio.server()
    h = grpc.unary_unary_rpc_method_handler
    handlers = {
        "RecordActivity": h(
            counted(counter, "RecordActivity", floor.record),
            growth_pb2.RecordActivityRequest.FromString,
            growth_pb2.RecordActivityResponse.SerializeToString,
        ),
        "GetBalance": h(
            counted(counter, "GetBalance", floor.balance),
            growth_pb2.GetBalanceRequest.FromString,
            growth_pb2.Balance.SerializeToString,
        ),
        "EnrollMember": h(
            counted(counter, "EnrollMember", floor.enroll),
            growth_pb2.EnrollMemberRequest.FromString,
            growth_pb2.Member.SerializeToString,
        ),
    }
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("skylane.growth.v1.GrowthService", handlers),)
    )
    from grpc_health.v1 import health, health_pb2_grpc

    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port(f"127.0.0.1:{args.port}")
    await server.start()
    announce(port, counter.serve())
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    print(f"floor: {floor.rows} rows in {floor.batches} commits", file=sys.stderr)
    await server.stop(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=0)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--db", help="SQLite file")
    where.add_argument("--pg", help="PostgreSQL DSN for asyncpg (postgresql://user@host:port/db)")
    parser.add_argument("--pg-mode", choices=["batch", "pool"], default="batch")
    parser.add_argument("--pg-writers", type=int, default=1, help="batch mode: writer connections (pipelining)")
    parser.add_argument("--unique", action="store_true")
    parser.add_argument(
        "--statements", type=int, default=0, help="SQLite: K statements per call, each call in its own savepoint"
    )
    parser.add_argument("--window-ms", type=float, default=1.0, help="group-commit arrival window (0: next loop turn)")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
