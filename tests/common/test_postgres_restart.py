"""PostgreSQL going away under write load: UNAVAILABLE while it is down, served again once it is back,
and no write partial, doubled or lost.

A private cluster (tests/pg_cluster.py) is crashed with `pg_ctl stop -m immediate` while concurrent
clients record activities on a real growth service, kept down while they keep calling, restarted, and
called again. Every call carries its own idempotency key and event id, so the database can be audited
call by call afterwards; the calls that failed are then retried with the same keys.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from services.common.db_errors import UNAVAILABLE_MESSAGE, is_database_unavailable
from services.growth.app import build
from skylane.common.v1 import types_pb2
from skylane.growth.v1 import growth_pb2
from tests.growth.helpers import Client, config, cref, ledger_sums, member_consistency, ts
from tests.helpers import DbTarget, running_service
from tests.pg_cluster import PgCluster, free_port, pg_bindir, private_cluster

BINDIR = pg_bindir()
pytestmark = pytest.mark.skipif(BINDIR is None, reason="PostgreSQL server binaries (initdb, pg_ctl) not installed")

CLIENTS = 8
PHASE_SECONDS = 1.0  # of load before the crash, while down, and after the restart
BACKOFF_SECONDS = 0.02  # a failed client waits this long before its next call, as a real one would
CALL_TIMEOUT = 10.0  # a call hanging on a dead server would show up as DEADLINE_EXCEEDED
METHOD = "GrowthService.RecordActivity"

# Cluster states a call can start or end in, in the order the test goes through them.
UP, CRASHING, DOWN, STARTING, BACK = "up", "crashing", "down", "starting", "back"


@dataclass
class Call:
    request: growth_pb2.RecordActivityRequest
    points: int
    started: str
    ended: str = ""
    code: grpc.StatusCode = grpc.StatusCode.OK
    details: str = ""
    response: growth_pb2.RecordActivityResponse | None = None


@dataclass
class Load:
    """CLIENTS concurrent callers, each earning points for its own member, every call kept for the audit."""

    client: Client
    members: list[str]
    state: str = UP
    calls: list[Call] = field(default_factory=list)
    stopping: bool = False
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    async def caller(self, member: str) -> None:
        while not self.stopping:
            seq = next(self._seq)
            points = seq % 9 + 1
            call = Call(_earn(self.client, member, seq, points), points, self.state)
            try:
                call.response = await self.client.growth.RecordActivity(call.request, timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError as error:
                call.code, call.details = error.code(), error.details() or ""
            call.ended = self.state
            self.calls.append(call)
            if call.code != grpc.StatusCode.OK:
                await asyncio.sleep(BACKOFF_SECONDS)

    def by_code(self) -> Counter[str]:
        return Counter(call.code.name for call in self.calls)


def _earn(client: Client, member: str, seq: int, points: int) -> growth_pb2.RecordActivityRequest:
    """An earn event with its own idempotency key and event id, both derived from seq, so that the audit
    can find every call in the database by them (and no id is a random string the edge might refuse)."""
    return growth_pb2.RecordActivityRequest(
        idempotency_key=types_pb2.IdempotencyKey(value=f"pgr-key-{seq}"),
        customer=cref(member),
        activity=growth_pb2.Activity(
            source="pg-restart",
            id=f"pgr-event-{seq}",
            type="earn",
            occurred_at=ts(client.h.clock.now()),
            attributes={"points": str(points)},
        ),
    )


async def _enroll(client: Client, count: int) -> list[str]:
    members = [f"member-pgr-{chr(ord('a') + i)}" for i in range(count)]
    for member in members:
        await client.growth.EnrollMember(
            growth_pb2.EnrollMemberRequest(
                idempotency_key=types_pb2.IdempotencyKey(value=member), customer=cref(member)
            )
        )
    return members


async def _phase(load: Load, state: str, action: asyncio.Future[None] | None = None) -> None:
    """Sets the cluster state the callers see, then runs the action (or just lets load run a while)."""
    load.state = state
    if action is None:
        await asyncio.sleep(PHASE_SECONDS)
    else:
        await action


async def _run_fault(load: Load, cluster: PgCluster) -> dict[str, float]:
    """Load, crash, keep calling while down, restart, keep calling; returns how long each step took."""
    callers = [asyncio.create_task(load.caller(member)) for member in load.members]
    took: dict[str, float] = {}
    try:
        await _phase(load, UP)
        started = time.perf_counter()
        await _phase(load, CRASHING, asyncio.ensure_future(asyncio.to_thread(cluster.crash)))
        took["crash"] = time.perf_counter() - started
        await _phase(load, DOWN)
        await _read_while_down(load.client, load.members[0])
        started = time.perf_counter()
        await _phase(load, STARTING, asyncio.ensure_future(asyncio.to_thread(cluster.start)))
        took["restart"] = time.perf_counter() - started
        await _phase(load, BACK)
    finally:
        load.stopping = True
        await asyncio.gather(*callers)
    return took


def _check_codes(load: Load) -> None:
    """Only OK or UNAVAILABLE ever; all UNAVAILABLE while down; all OK once back."""
    codes = load.by_code()
    odd = [(c.code.name, c.details, c.started, c.ended) for c in load.calls if c.code.name not in ("OK", "UNAVAILABLE")]
    assert not odd, (codes, odd[:5])
    assert all(c.details == UNAVAILABLE_MESSAGE for c in load.calls if c.code == grpc.StatusCode.UNAVAILABLE)
    while_down = [c for c in load.calls if c.started == DOWN and c.ended == DOWN]
    assert while_down, "no call was made while the database was down"
    assert all(c.code == grpc.StatusCode.UNAVAILABLE for c in while_down)
    once_back = [c for c in load.calls if c.started == BACK]
    assert once_back, "no call was made after the restart"
    assert all(c.code == grpc.StatusCode.OK for c in once_back), Counter(c.code.name for c in once_back)
    assert any(c.code == grpc.StatusCode.OK for c in load.calls if c.started == UP)


async def _recorded(client: Client) -> Counter[str]:
    """How many activity rows each event id has, straight from the database."""
    async with client.h.app.db.report() as s:
        rows = (await s.execute(text("SELECT event_id, COUNT(*) FROM activities GROUP BY event_id"))).all()
    return Counter({event_id: int(n) for event_id, n in rows})


async def _stored_keys(client: Client) -> tuple[int, int]:
    """(idempotency records of RecordActivity, how many of them lack a stored response)."""
    async with client.h.app.db.report() as s:
        total, unanswered = (
            await s.execute(
                text("SELECT COUNT(*), COUNT(*) - COUNT(response) FROM idempotency_keys WHERE method = :m"),
                {"m": METHOD},
            )
        ).one()
    return int(total), int(unanswered)


async def _answered_keys(client: Client, keys: set[str]) -> set[str]:
    """Which of these keys have an idempotency record with a stored answer."""
    async with client.h.app.db.report() as s:
        rows = (
            await s.execute(text("SELECT key, response FROM idempotency_keys WHERE method = :m"), {"m": METHOD})
        ).all()
    assert all(response is not None for _, response in rows), "an idempotency record without its answer"
    return {key for key, _ in rows if key in keys}


async def _retry_failed(client: Client, failed: list[Call]) -> None:
    """The failed calls again, same key and same request, by CLIENTS callers: each must now answer OK."""

    async def caller(share: list[Call]) -> None:
        for call in share:
            await client.growth.RecordActivity(call.request, timeout=CALL_TIMEOUT)

    await asyncio.gather(*(caller(failed[i::CLIENTS]) for i in range(CLIENTS)))


async def _check_replays(client: Client, ok: list[Call]) -> None:
    """A retry of a call that was answered OK gets the very same answer (and no second effect)."""
    sample = ok[:: max(1, len(ok) // 50)]
    replies = await asyncio.gather(*(client.growth.RecordActivity(c.request, timeout=CALL_TIMEOUT) for c in sample))
    assert [r.SerializeToString(deterministic=True) for r in replies] == [
        c.response.SerializeToString(deterministic=True) for c in sample if c.response is not None
    ]


async def _audit_outcomes(load: Load) -> tuple[int, int]:
    """Before any retry: every call answered OK is in the database exactly once, and a failed call left
    an idempotency record only if its whole transaction committed (the connection died during COMMIT),
    with the answer its retry will get. Returns (OK calls missing, failed calls that committed)."""
    client, recorded = load.client, await _recorded(load.client)
    lost = [c for c in load.calls if c.code == grpc.StatusCode.OK and recorded[c.request.activity.id] != 1]
    assert not lost, f"{len(lost)} calls answered OK are not in the database exactly once"
    failed = [c for c in load.calls if c.code != grpc.StatusCode.OK]
    committed = {c.request.idempotency_key.value for c in failed if recorded[c.request.activity.id]}
    assert await _answered_keys(client, {c.request.idempotency_key.value for c in failed}) == committed
    return len(lost), len(committed)


async def _audit_effects(load: Load) -> None:
    """After retrying: every call has taken effect exactly once, and the ledger adds up."""
    client, recorded = load.client, await _recorded(load.client)
    assert sorted(recorded.values()) == [1] * len(load.calls)
    assert set(recorded) == {c.request.activity.id for c in load.calls}
    assert await _stored_keys(client) == (len(load.calls), 0)
    for member in load.members:
        expected = sum(c.points for c in load.calls if c.request.customer.ref == member)
        assert (await client.balance(member)).points_available == expected
        available, lots, entries, held_gap = await member_consistency(client.h, member)
        assert available == lots == entries == expected and held_gap == 0
    assert set((await ledger_sums(client.h)).values()) == {0}


async def _quiet_restart(client: Client, cluster: PgCluster, members: list[str]) -> None:
    """A crash and restart with no call in between: the pool still holds the dead connections, and the
    very first calls afterwards must succeed all the same."""
    await asyncio.to_thread(cluster.crash)
    await asyncio.to_thread(cluster.start)
    before = {m: (await client.balance(m)).points_available for m in members}
    replies = await asyncio.gather(
        *(client.growth.RecordActivity(_earn(client, m, 1_000_000 + i, 1)) for i, m in enumerate(members))
    )
    assert all(r.awards[0].points == 1 for r in replies)
    assert {m: (await client.balance(m)).points_available for m in members} == {m: n + 1 for m, n in before.items()}


async def _read_while_down(client: Client, member: str) -> None:
    """Reads map the same way as writes."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await client.balance(member)
    assert (caught.value.code(), caught.value.details()) == (grpc.StatusCode.UNAVAILABLE, UNAVAILABLE_MESSAGE)


@pytest.fixture
async def growth_on_private_cluster(tmp_path: Path) -> AsyncIterator[tuple[Client, PgCluster]]:
    assert BINDIR is not None
    with private_cluster(BINDIR) as cluster:
        path = tmp_path / "growth.yaml"
        path.write_text(config(), encoding="utf-8")
        async with running_service(build, DbTarget("postgres", cluster.url), path) as h:
            yield Client(h), cluster


async def test_postgres_crash_and_restart_under_write_load(growth_on_private_cluster: tuple[Client, PgCluster]) -> None:
    client, cluster = growth_on_private_cluster
    members = await _enroll(client, CLIENTS)
    load = Load(client, members)
    took = await _run_fault(load, cluster)
    _check_codes(load)
    lost, committed = await _audit_outcomes(load)
    ok = [c for c in load.calls if c.code == grpc.StatusCode.OK]
    failed = [c for c in load.calls if c.code != grpc.StatusCode.OK]
    await _retry_failed(client, failed)
    await _check_replays(client, ok)
    await _audit_effects(load)
    in_flight = sum(1 for c in load.calls if c.started == UP and c.ended != UP)
    by_state = dict(Counter((c.started, c.code.name) for c in load.calls))
    print(
        f"\npg restart: calls={len(load.calls)} ok={len(ok)} unavailable={len(failed)} lost={lost} "
        f"committed_but_unanswered={committed} in_flight_at_crash={in_flight} took={took} by_state={by_state}"
    )
    await _quiet_restart(client, cluster, members)


# --- what counts as "the database is unavailable" (services/common/db_errors.py) ---


def _chained(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as caught:
        return caught


async def _refused_by_driver() -> BaseException:
    """A real refused connect, raised inside asyncpg (nothing listens on a fresh free port)."""
    import asyncpg

    try:
        await asyncpg.connect(host="127.0.0.1", port=free_port(), user="postgres", timeout=5)
    except OSError as exc:
        return exc
    raise AssertionError("connected to a port nothing listens on")


def _sqlite_locked(tmp_path: Path) -> BaseException:
    """SQLite's "database is locked": contention on a healthy database, to be reported as it is."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    url = f"sqlite:///{tmp_path / 'locked.db'}"
    holder, waiter = create_engine(url), create_engine(url, connect_args={"timeout": 0})
    with holder.connect() as held:
        held.exec_driver_sql("BEGIN IMMEDIATE")
        held.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        try:
            with waiter.connect() as other:
                other.exec_driver_sql("BEGIN IMMEDIATE")
        except OperationalError as exc:
            assert "database is locked" in str(exc)
            return exc
        finally:
            holder.dispose()
            waiter.dispose()
    raise AssertionError("the second writer was not refused")


async def test_what_counts_as_the_database_being_unavailable(tmp_path: Path) -> None:
    import asyncpg
    from sqlalchemy import exc as sa_exc

    refused = await _refused_by_driver()
    starting = asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
    lost = sa_exc.DBAPIError("SELECT 1", {}, Exception("connection was closed"), connection_invalidated=True)
    unavailable = [
        refused,
        starting,
        asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        lost,
        sa_exc.DBAPIError("SELECT 1", {}, starting),  # not invalidated, but the driver's error says it
        _chained(KeyError("raised while handling the outage"), refused),
        ExceptionGroup("both", [starting, lost]),
    ]
    available = [
        ConnectionRefusedError(111, "Connect call failed"),  # not raised in database code: a partner, say
        _sqlite_locked(tmp_path),
        asyncpg.exceptions.ProtocolViolationError("protocol violation"),
        asyncpg.exceptions.UniqueViolationError("duplicate key value violates unique constraint"),
        sa_exc.IntegrityError("INSERT", {"note": "connection is closed"}, Exception("duplicate key")),
        RuntimeError("the database system is starting up"),  # application text, not the driver's
        ExceptionGroup("mixed", [starting, ValueError("bug")]),
    ]
    assert [is_database_unavailable(e) for e in unavailable] == [True] * len(unavailable)
    assert [is_database_unavailable(e) for e in available] == [False] * len(available)
