"""Persistence of policy versions, the champion/candidate control row and its history."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.common.point_reads import ReadSession
from services.router.domain.control import ControlState, HistoryEvent
from services.router.domain.model import Mode
from services.router.models import PolicyControlRow, PolicyHistoryRow, PolicyVersionRow

versions = cast(Table, PolicyVersionRow.__table__)
control = cast(Table, PolicyControlRow.__table__)
history = cast(Table, PolicyHistoryRow.__table__)

CONTROL_ID = 1


async def register_versions(
    session: AsyncSession, dialect: str, policies: dict[str, dict[str, Any]], source: str, now: datetime
) -> None:
    """Remembers policies by version; a version already known keeps its first source and time."""
    if policies:
        await session.execute(
            insert_ignoring_conflicts(dialect, versions),
            [
                {"version": v, "policy_json": json.dumps(p, sort_keys=True), "source": source, "first_seen_at": now}
                for v, p in policies.items()
            ],
        )


async def load_versions(session: AsyncSession) -> Sequence[Any]:
    return (await session.execute(select(versions).order_by(versions.c.first_seen_at, versions.c.version))).all()


async def load_version(session: AsyncSession, version: str) -> Row[Any] | None:
    return (await session.execute(select(versions).where(versions.c.version == version))).first()


async def load_control(session: ReadSession, dialect: str, *, for_update: bool = False) -> ControlState | None:
    query = select(control).where(control.c.id == CONTROL_ID)
    if for_update and dialect == "postgresql":
        query = query.with_for_update()
    row = (await session.execute(query)).first()
    if row is None:
        return None
    return ControlState(
        champion=row.champion,
        candidate=row.candidate,
        mode=Mode(row.mode),
        share=float(row.share),
        file_champion=row.file_champion,
        file_candidate_digest=row.file_candidate_digest,
        revision=int(row.revision),
    )


async def load_revision(session: ReadSession) -> int:
    value = (await session.execute(select(control.c.revision).where(control.c.id == CONTROL_ID))).scalar()
    return int(value or 0)


def _control_values(state: ControlState, now: datetime) -> dict[str, Any]:
    return {
        "revision": state.revision,
        "champion": state.champion,
        "candidate": state.candidate,
        "mode": state.mode.value,
        "share": state.share,
        "file_champion": state.file_champion,
        "file_candidate_digest": state.file_candidate_digest,
        "updated_at": now,
    }


async def create_control(
    session: AsyncSession, dialect: str, state: ControlState, events: list[HistoryEvent], now: datetime
) -> bool:
    """Writes the first state and its history; False (nothing written) when it already exists.

    On PostgreSQL a concurrent creator's uncommitted row makes this wait, then insert nothing.
    """
    inserted = await session.execute(
        insert_ignoring_conflicts(dialect, control).values(id=CONTROL_ID, **_control_values(state, now))
    )
    if inserted.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await _add_history(session, events, now)
    return True


async def save_control(
    session: AsyncSession, dialect: str, state: ControlState, events: list[HistoryEvent], now: datetime
) -> None:
    values = _control_values(state, now)
    inserted = await session.execute(insert_ignoring_conflicts(dialect, control).values(id=CONTROL_ID, **values))
    if inserted.rowcount != 1:  # type: ignore[attr-defined]
        await session.execute(control.update().where(control.c.id == CONTROL_ID).values(**values))
    await _add_history(session, events, now)


async def _add_history(session: AsyncSession, events: list[HistoryEvent], now: datetime) -> None:
    if events:
        await session.execute(
            history.insert(),
            [
                {
                    "at": now,
                    "action": e.action,
                    "champion": e.champion,
                    "candidate": e.candidate,
                    "mode": e.mode.value,
                    "share": e.share,
                }
                for e in events
            ],
        )


async def load_history(session: AsyncSession, limit: int = 200) -> list[HistoryEvent]:
    rows = (await session.execute(select(history).order_by(history.c.id.desc()).limit(limit))).all()
    return [HistoryEvent(r.action, r.champion, r.candidate, Mode(r.mode), float(r.share)) for r in rows]


async def load_history_rows(session: AsyncSession, limit: int = 200) -> Sequence[Any]:
    return (await session.execute(select(history).order_by(history.c.id.desc()).limit(limit))).all()
