"""What growth does with its peers' events (the consumers in workers.py): an event of a type that
`events.activities` maps is recorded as that activity and earns what the tasks say.

The activity's source is "<peer>-events" and its id the event id, so besides the consumer's own
deduplication the activity table's (source, id) key makes a second delivery a duplicate that awards
nothing. A customer who is not a member earns nothing (the event is consumed as MEMBER_NOT_FOUND); an
event older than `max_event_age_days` is consumed as EVENT_TOO_OLD; an event dated ahead of growth's
clock (the peer's clock runs ahead) counts as happening now.
"""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.consumer import Handler, Skip
from services.growth.domain.awards import ActivityIn
from services.growth.service import activity
from services.growth.service.activity import ConcurrentDuplicate, TaskIndex
from services.growth.service.context import Runtime
from skylane.common.v1 import events_pb2


def activity_types(rt: Runtime, peer: str) -> dict[str, str]:
    """Peer event type → growth activity type, as the running config says."""
    return dict(rt.config.model.events.activities.get(peer, {}))  # type: ignore[call-overload]


def earn_from(rt: Runtime, tasks: TaskIndex, peer: str) -> Handler:
    """The consumer's handler for one peer's events."""

    async def handle(session: AsyncSession, event: events_pb2.DomainEvent) -> str:
        kind = activity_types(rt, peer).get(event.type)
        if kind is None:
            return "ignored"
        deps = rt.deps()
        occurred = min(event.occurred_at.ToDatetime(tzinfo=UTC), deps.now)
        if occurred < deps.now - timedelta(days=deps.cfg.max_event_age_days):
            raise Skip("EVENT_TOO_OLD")
        done = ActivityIn(f"{peer}-events", event.event_id, kind, occurred, dict(event.data))
        try:
            await activity.record(session, deps, event.customer.ref, done, tasks.tasks_for(deps, kind))
        except ConcurrentDuplicate:
            raise Skip("DUPLICATE") from None
        return "applied"

    return handle
