"""People answering for the bot: take a conversation over, reply as a person on its own channel, release it.

While an operator holds a conversation the bot stays out of it (`graphs.turns` answers the shopper with a
holding line, the WhatsApp worker stays silent). A person's reply is stored like any message, with role
`human`, and reaches the shopper the way that channel works: on WhatsApp through the outbox (the same
24-hour window, opt-out and splitting rules as the bot's replies, sent by the channel worker), on the
storefront widget by its poll of `GET /v1/chat/messages`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from chat_ui.whatsapp.constants import DELIVER_TASK
from chat_ui.whatsapp.outbox import plan
from chat_ui.whatsapp.worker import whatsapp_account
from graphs.turns import HUMAN_ROLE
from hub.audit.events import record
from hub.db import models as m
from hub.jobs import JobQueue

MAX_REPLY = 4000


class HandoffError(ValueError):
    """The operator asked for something the conversation's state does not allow; the message says what."""


async def _owned(session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> m.Conversation:
    conversation = await session.get(m.Conversation, conversation_id)
    if conversation is None or conversation.tenant_id != tenant_id:
        raise HandoffError(f"no conversation {conversation_id} in this shop")
    return conversation


async def set_handler(
    session: AsyncSession, tenant_id: uuid.UUID, conversation_id: uuid.UUID, *, human: bool, operator: str
) -> m.Conversation:
    """Take a conversation over (the bot stays quiet) or release it back to the bot; audited; the caller commits."""
    conversation = await _owned(session, tenant_id, conversation_id)
    conversation.status = m.ConversationStatus.HUMAN if human else m.ConversationStatus.BOT
    await record(
        session,
        tenant_id=tenant_id,
        actor=operator,
        action="conversation.taken_over" if human else "conversation.released",
        subject=str(conversation_id),
        data={},
    )
    return conversation


async def reply_as_human(
    session: AsyncSession,
    jobs: JobQueue | None,
    tenant_id: uuid.UUID,
    conversation_id: uuid.UUID,
    text: str,
    *,
    operator: str,
) -> m.Message:
    """Store a person's reply in a conversation they hold, commit it, and start its delivery."""
    text = text.strip()
    if not text:
        raise HandoffError("write the reply after the conversation id")
    if len(text) > MAX_REPLY:
        raise HandoffError(f"a reply is at most {MAX_REPLY} characters")
    conversation = await _owned(session, tenant_id, conversation_id)
    if conversation.status != m.ConversationStatus.HUMAN:
        raise HandoffError(f"take conversation {conversation_id} over first (/takeover): the bot is handling it")
    if conversation.channel == m.Channel.CONSOLE:
        raise HandoffError("that is an operator's console thread, not a shopper's conversation")
    now = datetime.now(UTC)
    account = None
    if conversation.channel == m.Channel.WHATSAPP:
        account = await whatsapp_account(session, tenant_id)
        if account is None:
            raise HandoffError("this shop has no WhatsApp number connected to send from")
        if jobs is None:
            raise HandoffError("replies on WhatsApp need the job queue, which this process does not have")
    message = m.Message(
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        role=HUMAN_ROLE,
        content=text,
        created_at=now,
        meta={"by": operator},
    )
    session.add(message)
    await session.flush()
    if account is not None:
        plan(session, conversation=conversation, message=message, account_config=account.config, now=now)
    await record(
        session,
        tenant_id=tenant_id,
        actor=operator,
        action="conversation.human_reply",
        subject=str(conversation.id),
        data={"message_id": str(message.id), "channel": str(conversation.channel)},
    )
    await session.commit()
    if account is not None and jobs is not None:
        await jobs.enqueue(DELIVER_TASK, str(tenant_id), str(conversation.id), priority="high")
    return message
