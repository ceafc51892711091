"""Ratings of assistant replies, and the low-rated or corrected turns that may become golden eval cases.

Shoppers rate a reply with a thumb (the widget's buttons, WhatsApp's quick replies after a closing); operators
rate and correct replies from the console. A message keeps one rating per source: a shopper's first tap stands
(tapping again changes nothing), an operator's newer rating replaces the older one. `candidates` lists the turns
someone rated down or corrected, with what the turn's tools returned (from its `chat.turn` audit event), with
personal data masked, for `hub eval candidates` and `hub eval adopt`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.events import record
from hub.audit.redact import redact, redact_text
from hub.db import models as m

ASSISTANT_ROLE = "assistant"
UP, DOWN = 1, -1
RATINGS = {"up": UP, "down": DOWN}
"""How the widget, the console and the CLI spell a rating."""
TURN_ACTION = "chat.turn"
SHOPPER_CHANNELS = (m.Channel.WEB, m.Channel.WHATSAPP)
"""Conversations whose replies are `customer_reply` turns."""


class FeedbackError(ValueError):
    """A rating that cannot be stored: no such reply for this tenant (or this conversation)."""


async def assistant_message(
    session: AsyncSession, tenant_id: uuid.UUID, message_id: uuid.UUID, *, conversation_id: uuid.UUID | None = None
) -> m.Message | None:
    """The tenant's assistant message with this id (in `conversation_id`, when given), or None."""
    query = select(m.Message).where(
        m.Message.id == message_id, m.Message.tenant_id == tenant_id, m.Message.role == ASSISTANT_ROLE
    )
    if conversation_id is not None:
        query = query.where(m.Message.conversation_id == conversation_id)
    return (await session.execute(query)).scalar_one_or_none()


async def rate(
    session: AsyncSession,
    message: m.Message,
    *,
    source: m.FeedbackSource,
    rating: int,
    by: str,
    correction: str | None = None,
    comment: str | None = None,
) -> tuple[m.ReplyFeedback, bool]:
    """Store a rating of `message`; return the row and whether this call changed anything (the caller commits).

    A shopper's rating is stored once: rating the message again returns the first one unchanged. An operator's
    replaces the operator rating before it (the correction too, when a new one is given).
    """
    if rating not in (UP, DOWN):
        raise FeedbackError(f"a rating is {UP} or {DOWN}, not {rating}")
    existing = await _rating_of(session, message.id, source)
    if existing is not None and source == m.FeedbackSource.SHOPPER:
        return existing, False
    if existing is not None:
        existing.rating, existing.by = rating, by
        existing.correction = correction or existing.correction
        existing.comment = comment or existing.comment
        row = existing
    else:
        row = m.ReplyFeedback(
            tenant_id=message.tenant_id,
            message_id=message.id,
            source=source,
            rating=rating,
            correction=correction,
            comment=comment,
            by=by,
        )
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError:  # the same shopper's second tap, stored meanwhile by another request
            found = await _rating_of(session, message.id, source)
            if found is None:
                raise
            return found, False
    await record(
        session,
        tenant_id=message.tenant_id,
        actor=by,
        action="reply.rated",
        subject=str(message.id),
        data={"source": source.value, "rating": rating, "corrected": bool(correction)},
    )
    return row, True


async def _rating_of(session: AsyncSession, message_id: uuid.UUID, source: m.FeedbackSource) -> m.ReplyFeedback | None:
    found = await session.execute(
        select(m.ReplyFeedback).where(m.ReplyFeedback.message_id == message_id, m.ReplyFeedback.source == source)
    )
    return found.scalar_one_or_none()


@dataclass(frozen=True)
class Rating:
    source: str
    rating: int
    by: str
    correction: str | None
    comment: str | None


@dataclass(frozen=True)
class Candidate:
    """A rated-down or corrected reply, as a golden case would need it; personal data masked."""

    message_id: uuid.UUID
    tenant_id: uuid.UUID
    channel: str
    created_at: datetime
    shopper_message: str
    reply: str
    intent: str | None
    language: str | None
    tools: list[dict[str, Any]]
    """The turn's tool calls as its audit event recorded them: tool, args, status, result."""
    ratings: list[Rating] = field(default_factory=list[Rating])

    @property
    def correction(self) -> str | None:
        """The operator's correction: the reference answer of a case adopted from this turn."""
        return next((r.correction for r in self.ratings if r.correction), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "message_id": str(self.message_id),
            "tenant_id": str(self.tenant_id),
            "channel": self.channel,
            "created_at": self.created_at.isoformat(),
            "shopper_message": self.shopper_message,
            "reply": self.reply,
            "intent": self.intent,
            "language": self.language,
            "ratings": [r.__dict__ for r in self.ratings],
            "correction": self.correction,
            "tools": self.tools,
        }


async def candidates(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID | None = None,
    message_ids: list[uuid.UUID] | None = None,
    limit: int = 200,
) -> list[Candidate]:
    """Shoppers' turns someone rated down or corrected, newest first (of one tenant, or of these messages)."""
    rated = select(m.ReplyFeedback.message_id).where(
        or_(m.ReplyFeedback.rating < 0, m.ReplyFeedback.correction.is_not(None))
    )
    query = (
        select(m.Message, m.Conversation)
        .join(m.Conversation, m.Conversation.id == m.Message.conversation_id)
        .where(
            m.Message.role == ASSISTANT_ROLE,
            m.Message.id.in_(rated),
            m.Conversation.channel.in_([c.value for c in SHOPPER_CHANNELS]),
        )
        .order_by(m.Message.created_at.desc())
        .limit(limit)
    )
    if tenant_id is not None:
        query = query.where(m.Message.tenant_id == tenant_id)
    if message_ids is not None:
        query = query.where(m.Message.id.in_(message_ids))
    found: list[Candidate] = []
    for message, conversation in (await session.execute(query)).all():
        found.append(await _candidate(session, message, conversation))
    return found


async def turn_evidence(session: AsyncSession, reply: m.Message) -> tuple[str | None, dict[str, Any]]:
    """What a shopper reply answered and what its turn recorded: the shopper's message before it, and the data of
    the turn's `chat.turn` audit event (its intent, language, tool calls with their results, the validators'
    findings); `{}` when the turn left none."""
    asked = (
        await session.execute(
            select(m.Message.content)
            .where(
                m.Message.conversation_id == reply.conversation_id,
                m.Message.role == "customer",
                m.Message.created_at <= reply.created_at,
            )
            .order_by(m.Message.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    turn = (
        await session.execute(
            select(m.AuditEvent.data)
            .where(
                m.AuditEvent.tenant_id == reply.tenant_id,
                m.AuditEvent.subject == str(reply.id),
                m.AuditEvent.action == TURN_ACTION,
            )
            .limit(1)
        )
    ).scalar_one_or_none() or {}
    return asked, turn


async def _candidate(session: AsyncSession, message: m.Message, conversation: m.Conversation) -> Candidate:
    asked, turn = await turn_evidence(session, message)
    ratings = (
        await session.execute(
            select(m.ReplyFeedback).where(m.ReplyFeedback.message_id == message.id).order_by(m.ReplyFeedback.source)
        )
    ).scalars()
    return Candidate(
        message_id=message.id,
        tenant_id=message.tenant_id,
        channel=str(conversation.channel),
        created_at=message.created_at,
        shopper_message=redact_text(asked or ""),
        reply=redact_text(message.content),
        intent=message.intent or turn.get("intent"),
        language=turn.get("language") or conversation.language,
        tools=redact(list(turn.get("tools") or [])),
        ratings=[
            Rating(
                source=str(r.source),
                rating=r.rating,
                by=redact_text(r.by),
                correction=redact_text(r.correction) if r.correction else None,
                comment=redact_text(r.comment) if r.comment else None,
            )
            for r in ratings
        ],
    )
