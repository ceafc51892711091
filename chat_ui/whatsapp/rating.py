"""Ask a WhatsApp shopper to rate the help they got, once the conversation is resolved, and record their tap.

A conversation counts as resolved when the shopper closes it: their message thanks or says goodbye
(`agents.engine.closing_of`) and the turn reads it as courtesy or feedback, not as a new question, after the
assistant answered something of substance (its latest reply whose intent is not a greeting) that the shopper has
not rated yet. The closing reply then carries two reply buttons ("👍 Helpful" and "👎 Not helpful", in the
conversation's language: `chat_ui.chrome`), whose ids name
that substantive reply (`rate:up:<message id>`); WhatsApp sends the id back with the tap, so the tap rates that
reply (`hub.feedback`) instead of running a turn, and the shopper gets a short thanks.
"""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.engine import closing_of
from agents.replies import QuickReply
from chat_ui.chrome import rating_text
from chat_ui.whatsapp.events import InboundKind, InboundMessage
from graphs.turns import TurnResult
from hub.db import models as m
from hub.feedback import ASSISTANT_ROLE, DOWN, RATINGS, UP
from hub.prompting.outputs import Intent

RATE_PREFIX = "rate:"
_CLOSING_INTENTS = (Intent.GREETING, Intent.FEEDBACK)
"""What a closing message is read as: courtesy (the engine), or a word of thanks about the help (a model may)."""


def rating_choices(message_id: uuid.UUID, language: str | None) -> list[QuickReply]:
    """The two reply buttons that rate `message_id`, titled in the conversation's language."""
    helpful, not_helpful, _ = rating_text(language)
    return [
        QuickReply(id=f"{RATE_PREFIX}up:{message_id}", title=helpful),
        QuickReply(id=f"{RATE_PREFIX}down:{message_id}", title=not_helpful),
    ]


def tapped_rating(event: InboundMessage) -> tuple[int, uuid.UUID] | None:
    """The rating and the rated message of a tap on `rating_choices`; None for any other message."""
    reply_id = event.meta.get("reply_id") if event.kind == InboundKind.BUTTON else None
    if not isinstance(reply_id, str) or not reply_id.startswith(RATE_PREFIX):
        return None
    verdict, _, ref = reply_id.removeprefix(RATE_PREFIX).partition(":")
    if verdict not in RATINGS:
        return None
    try:
        return (UP if verdict == "up" else DOWN), uuid.UUID(ref)
    except ValueError:
        return None


async def rating_target(
    session: AsyncSession, conversation: m.Conversation, result: TurnResult, text: str
) -> uuid.UUID | None:
    """The reply to ask the shopper to rate after this turn, if it closed a resolved conversation; else None."""
    if result.handled_by != "bot" or result.quick_replies or result.awaiting:
        return None
    if result.intent not in _CLOSING_INTENTS or closing_of(text) is None:
        return None
    rated = exists().where(
        m.ReplyFeedback.message_id == m.Message.id, m.ReplyFeedback.source == m.FeedbackSource.SHOPPER
    )
    found = await session.execute(
        select(m.Message.id, rated.label("rated"))
        .where(
            m.Message.conversation_id == conversation.id,
            m.Message.role == ASSISTANT_ROLE,
            m.Message.id != result.message_id,
            m.Message.intent.is_not(None),
            m.Message.intent != Intent.GREETING.value,
        )
        .order_by(m.Message.created_at.desc())
        .limit(1)
    )
    row = found.one_or_none()
    return None if row is None or row.rated else row.id


def thanks(language: str | None) -> str:
    """What the shopper is told after tapping a rating, in the conversation's language."""
    return rating_text(language)[2]
