"""Tell the shop's own systems what happened: events written to an outbox with the change they report.

`emit` adds an `OutboxEvent` row in the caller's transaction, so an event exists exactly when its change was
committed (a transactional outbox: no event for a change that rolled back, no change without its event). The
delivery worker (`hub.shop_events.delivery`) sends each to the shop's webhook URL, signed, with retries and a
dead-letter list operators can replay.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m

EVENT_TYPES: Final = (
    "return.requested",
    "return.approved",
    "return.denied",
    "order.cancel_requested",
    "order.cancelled",
    "order.cancel_denied",
    "order.address_change_requested",
    "order.address_changed",
    "order.address_change_denied",
)
"""Every event a shop can receive; the body's `type` is one of these."""


def emit(session: AsyncSession, tenant_id: uuid.UUID, type_: str, data: dict[str, Any]) -> m.OutboxEvent:
    """Add an event to the outbox in `session`'s transaction; the caller commits (and may then ask the worker to
    deliver it at once: `hub.shop_events.delivery`)."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")
    now = datetime.now(UTC)
    event = m.OutboxEvent(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        type=type_,
        data=data,
        created_at=now,
        status=m.EventStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
    )
    session.add(event)
    return event


def event_body(event: m.OutboxEvent) -> dict[str, Any]:
    """What the shop's webhook receives: the event's id (deduplicate on it: a delivery may repeat), type, time and
    data."""
    return {
        "id": str(event.id),
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "tenant_id": str(event.tenant_id),
        "data": event.data,
    }
