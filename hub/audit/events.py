"""Write the audit trail's events: who did what to which subject, appended in the caller's transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m


def event_row(
    *,
    tenant_id: uuid.UUID | None,
    actor: str,
    action: str,
    subject: str | None = None,
    trace_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return one audit event's column values, for a caller that inserts it with its other rows in one statement.

    `actor` is spelt `cli`, `system`, `operator:<email>`, `key:<prefix>`, `client:<address>` or
    `customer:<channel>:<ref>`;
    `tenant_id` is None only for a platform-wide event; `trace_id` ties the event to a turn's or a call's trace.
    """
    return {
        "tenant_id": tenant_id,
        "actor": actor,
        "action": action,
        "subject": subject,
        "trace_id": trace_id,
        "data": data or {},
    }


async def record(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None,
    actor: str,
    action: str,
    subject: str | None = None,
    trace_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append one audit event to the session: it is written with the caller's next flush, and kept if it commits."""
    session.add(
        m.AuditEvent(
            **event_row(tenant_id=tenant_id, actor=actor, action=action, subject=subject, trace_id=trace_id, data=data)
        )
    )
