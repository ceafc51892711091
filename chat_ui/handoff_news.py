"""Tell a shop's operators about conversations handed to them: why, and what the shopper wants.

The turn that hands a conversation over stores the `handoff_to_human` call (its reason and summary) in the turn's
audit event, and the handoff's reference in the assistant message's `meta`; this module reads them back, for the
console's `/handoffs` and for the `handoff` event published on the shop's events channel (`hub.jobs.events_channel`)
after the surface that ran the turn committed it, which every open console of the shop shows at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import structlog
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphs.turns import TurnResult
from hub.db import models as m
from hub.jobs import JobQueue

log = structlog.get_logger(__name__)

HANDOFF_TOOL = "handoff_to_human"
HANDOFF_EVENT = "handoff"
"""The `kind` of the event published on the shop's channel when a shopper's conversation is handed over."""


@dataclass(frozen=True)
class Handover:
    """Why a conversation was handed to a person, as the turn that did it recorded."""

    conversation_id: uuid.UUID
    message_id: uuid.UUID
    """The assistant's reply that handed over."""
    reference: str
    at: datetime
    reason: str | None
    """A `tools.engagement.HandoffReason` value; None when the turn's audit event is gone (retention)."""
    summary: str | None


async def handovers(
    session: AsyncSession, tenant_id: uuid.UUID, conversation_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Handover]:
    """The latest handover of each conversation that has one (a conversation an operator took over has none)."""
    if not conversation_ids:
        return {}
    rows = (
        await session.execute(
            select(m.Message.id, m.Message.conversation_id, m.Message.trace_id, m.Message.created_at, m.Message.meta)
            .where(
                m.Message.tenant_id == tenant_id,
                m.Message.conversation_id.in_(conversation_ids),
                m.Message.role == "assistant",
                m.Message.meta["handoff"].as_string().is_not(None),
            )
            .order_by(m.Message.created_at.desc())
        )
    ).all()
    latest: dict[uuid.UUID, Any] = {}
    for row in rows:
        latest.setdefault(row.conversation_id, row)
    events = (
        await session.execute(
            select(m.AuditEvent.subject, m.AuditEvent.data).where(
                m.AuditEvent.tenant_id == tenant_id,
                m.AuditEvent.trace_id.in_([r.trace_id for r in latest.values() if r.trace_id]),
                m.AuditEvent.subject.in_([str(r.id) for r in latest.values()]),
            )
        )
    ).all()
    data = {subject: event for subject, event in events}
    found: dict[uuid.UUID, Handover] = {}
    for conversation_id, row in latest.items():
        reference = str(row.meta["handoff"])
        call = _handoff_call(data.get(str(row.id)) or {}, reference)
        found[conversation_id] = Handover(
            conversation_id=conversation_id,
            message_id=row.id,
            reference=reference,
            at=row.created_at,
            reason=call.get("reason"),
            summary=call.get("summary"),
        )
    return found


def _handoff_call(event: dict[str, Any], reference: str) -> dict[str, Any]:
    """The result of the turn's `handoff_to_human` call that made `reference` (the last one, if it named none)."""
    results = [
        c.get("result") or {}
        for c in event.get("tools", [])
        if c.get("tool") == HANDOFF_TOOL and c.get("status") == "ok"
    ]
    return next((r for r in results if r.get("reference") == reference), results[-1] if results else {})


def hands_over(result: TurnResult) -> bool:
    """Whether this turn handed the conversation to a person (not a turn answered while a person already had it)."""
    return result.handled_by == "human" and HANDOFF_TOOL in result.tools


async def announce_handoff(
    session: AsyncSession, jobs: JobQueue | None, tenant_id: uuid.UUID, result: TurnResult
) -> None:
    """After the turn is committed: if it handed the conversation over, tell the shop's open consoles. Best effort:
    the shopper's answer never fails for it, and `/handoffs` lists the conversation either way."""
    if jobs is None or not hands_over(result):
        return
    message = await session.get(m.Message, result.message_id)
    if message is None or message.tenant_id != tenant_id:
        return
    conversation = await session.get(m.Conversation, message.conversation_id)
    handover = (await handovers(session, tenant_id, [message.conversation_id])).get(message.conversation_id)
    if conversation is None or handover is None:
        return
    event = {
        "kind": HANDOFF_EVENT,
        "channel": str(conversation.channel),
        **{k: str(v) if isinstance(v, uuid.UUID | datetime) else v for k, v in asdict(handover).items()},
    }
    try:
        await jobs.publish(tenant_id, event)
    except (RedisError, OSError) as exc:
        log.warning("handoff_not_announced", conversation_id=str(conversation.id), error=str(exc))
