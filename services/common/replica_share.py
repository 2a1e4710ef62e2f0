"""This process's share of its service's traffic, when several replicas serve it from one database.

Budgets, caps and counters live in the database and every replica draws on the same ones, but a pacer
measures arrivals in its own process. Behind a balancer each of N replicas sees about 1/N of the traffic,
so a pacer that spread the whole remaining budget (or a partner's remaining cap) over its own arrivals
would plan N times too much per arrival, and the replicas together would spend N times too fast. Each
replica therefore publishes its recent call rate in the `replica_load` table and reads the others': its
share is its own rate over the sum of the rates of every replica heard from in the last `STALE_SECONDS`,
and its pacers plan with that share of what is left.

While any live replica's rate is not measured yet (it just started), or this one had no calls, each
assumes an equal split; a replica that stops publishing (stopped,
crashed, partitioned) drops out of the sum after `STALE_SECONDS`, and its row is deleted a day later. A
single process finds only its own row: share 1, exactly the single-process behaviour.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy import Column, Float, MetaData, String, Table, bindparam, delete, select, update

from services.common.clock import Clock
from services.common.db import Database, UTCDateTime, insert_ignoring_conflicts

log = structlog.get_logger("skylane.replicas")

TABLE = "replica_load"
PUBLISH_SECONDS = 10.0  # how often a replica publishes its rate and re-reads the others'
STALE_SECONDS = 60.0  # a replica silent this long is left out of the sum
STALE = timedelta(seconds=STALE_SECONDS)
RATE_HALF_LIFE_SECONDS = 120.0  # the published rate is an exponentially weighted average over about this long
FORGET_AFTER = timedelta(days=1)  # rows of replicas gone this long are deleted


def replica_table(metadata: MetaData) -> Table:
    return Table(
        TABLE,
        metadata,
        Column("replica", String(32), primary_key=True),  # a random id per process start
        Column("rate", Float, nullable=True),  # calls per second, recent average; null until measured
        Column("updated_at", UTCDateTime, nullable=False),
    )


def create_replica_table(op: Any) -> None:
    op.create_table(
        TABLE,
        sa.Column("replica", sa.String(length=32), nullable=False),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("replica"),
    )


def drop_replica_table(op: Any) -> None:
    op.drop_table(TABLE)


_T = replica_table(MetaData())
_UPDATE = update(_T).where(_T.c.replica == bindparam("r")).values(rate=bindparam("rate"), updated_at=bindparam("at"))
_LIVE = select(_T.c.replica, _T.c.rate).where(_T.c.updated_at >= bindparam("since", type_=UTCDateTime()))
_FORGET = delete(_T).where(_T.c.updated_at < bindparam("before", type_=UTCDateTime()))


class TrafficShare:
    """The calls this process served and its share of the service's traffic (1.0 until measured)."""

    def __init__(self) -> None:
        self.calls = 0
        self.share = 1.0
        self.replicas = 1  # replicas heard from at the last publication, this one included

    def note(self) -> None:
        """One call of the kind the pacers plan for (an offer asked for, an applicant routed)."""
        self.calls += 1

    def of(self, amount: float) -> float:
        """This replica's part of an amount the replicas share (a budget, a cap's room)."""
        return amount * self.share


class ReplicaLoad:
    """The pass, run every `PUBLISH_SECONDS`, that publishes this replica's rate and updates its
    TrafficShare."""

    def __init__(self, db: Database, clock: Clock, traffic: TrafficShare) -> None:
        self.db, self.clock, self.traffic = db, clock, traffic
        self.replica = uuid.uuid4().hex
        self.rate: float | None = None
        self.counted, self.since = 0, clock.now()
        self._insert = insert_ignoring_conflicts(db.dialect, _T).values(
            replica=bindparam("r"), rate=bindparam("rate"), updated_at=bindparam("at", type_=UTCDateTime())
        )

    def _measure(self, now: datetime) -> float | None:
        seconds = (now - self.since).total_seconds()
        if seconds <= 0:
            return self.rate
        recent = (self.traffic.calls - self.counted) / seconds
        self.counted, self.since = self.traffic.calls, now
        if self.rate is None:
            self.rate = recent
        else:
            keep = math.pow(0.5, seconds / RATE_HALF_LIFE_SECONDS)
            self.rate = keep * self.rate + (1 - keep) * recent
        return self.rate

    async def publish(self) -> float:
        """Publishes this replica's rate, reads every live replica's, and returns the new share."""
        now = self.clock.now()
        rate = self._measure(now)
        params = {"r": self.replica, "rate": rate, "at": now}
        async with self.db.transaction() as session:
            if (await session.execute(_UPDATE, params)).rowcount != 1:  # type: ignore[attr-defined]
                await session.execute(self._insert, params)
            rows = (await session.execute(_LIVE, {"since": now - STALE})).all()
            live = {str(row.replica): row.rate for row in rows}
            await session.execute(_FORGET, {"before": now - FORGET_AFTER})
        self._update_share(live)
        return self.traffic.share

    def _update_share(self, live: dict[str, float | None]) -> None:
        rates = list(live.values())
        own = live.get(self.replica)
        if own and None not in rates:
            share = own / sum(r for r in rates if r is not None)
        else:  # a replica just started, or this one had no calls: an equal split until measured
            share = 1.0 / max(len(live), 1)
        before = self.traffic.share
        self.traffic.share, self.traffic.replicas = share, max(len(live), 1)
        if abs(share - before) >= 0.05:
            log.info("replica_share_changed", replicas=len(live), share=round(share, 3), before=round(before, 3))
