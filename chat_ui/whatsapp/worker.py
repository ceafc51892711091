"""Handle WhatsApp events in the job worker: dedupe, answer through the conversation graph, send, track statuses.

Each event runs under a Redis lock on its (tenant, customer), so two workers never act on one conversation
at once, and the graph sees a customer's messages one at a time. An inbound message is claimed in
`processed_webhook_events` in the same transaction that stores it, runs the turn and plans the reply's
deliveries: a redelivery, or a second worker, hits the unique key and sends nothing new, while a crash
before the commit rolls the claim back with the work, so the retried job does it all again. The sends
happen after that commit, from the outbox (`chat_ui.whatsapp.outbox`), which every try drains, duplicate or
not: a crash between the commit and the send leaves the reply pending, and the next try sends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, TypeVar

import anyio
import psycopg.errors
import redis.asyncio as aioredis
import structlog
from redis.exceptions import LockError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agents.engine import DeterministicEngine
from chat_ui.whatsapp.constants import (
    CONVERSATION_LOCK,
    CONVERSATIONS,
    DELIVER_TASK,
    EVENTS_TASK,
    GRAPH_API,
    WEBHOOK_SOURCE,
)
from chat_ui.whatsapp.events import EventBatch, InboundKind, InboundMessage, StatusUpdate
from chat_ui.whatsapp.graph_api import GraphApi, open_graph_api
from chat_ui.whatsapp.outbox import apply_status, deliver_pending, plan
from graphs.checkpoint import open_checkpointer
from graphs.conversation import build_graph
from graphs.turns import Conversations, Speaker, TurnDeadlines
from hub.audit.store import TraceStore
from hub.db import models as m
from hub.jobs import JobQueue, JobResources
from hub.metrics import observe_webhook_dedupe
from hub.settings import Settings
from tools.context import Audience

log = structlog.get_logger(__name__)

EVENTS_TIMEOUT_S = 900
"""One job: every event of one customer in one webhook, each possibly waiting its turn for the lock."""
_OPT_OUT = re.compile(r"(stop|unsubscribe|opt[\s-]?out)[\s.!]*", re.IGNORECASE)
_OPT_IN = re.compile(r"start[\s.!]*", re.IGNORECASE)
Keyword = Literal["opt_out", "opt_in"]
Outcome = Literal["processed", "duplicate", "skipped"]
T = TypeVar("T")
_SETUP_RACE = (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable, psycopg.errors.DuplicateObject)


def opted_out_reply(shop: str) -> str:
    return (
        f"You're unsubscribed: {shop} won't send you any more WhatsApp messages. "
        "Reply START at any time if you'd like to hear from us again."
    )


def opted_in_reply(shop: str) -> str:
    return f"Welcome back! You'll get WhatsApp replies from {shop} again. How can I help?"


UNCAPTIONED_IMAGE_REPLY = (
    "Thanks for the photo! I can't look at pictures yet: please tell me in a few words what you'd like to know, "
    "and I'll help."
)


def unsupported_reply(what: str) -> str:
    return (
        f"Sorry, I can't open {what} here yet. I can help with text messages, photos with a caption, "
        "button and list choices, and shared locations."
    )


def keyword(text: str | None) -> Keyword | None:
    """Recognise a whole-message opt-out (STOP, UNSUBSCRIBE, opt out) or opt-in (START), in any case."""
    if text is None:
        return None
    if _OPT_OUT.fullmatch(text.strip()):
        return "opt_out"
    if _OPT_IN.fullmatch(text.strip()):
        return "opt_in"
    return None


@dataclass(frozen=True)
class WhatsAppChannel:
    """What a worker needs to handle one batch of events; built per job from the worker's resources."""

    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    conversations: Conversations
    api: GraphApi
    settings: Settings
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def handle(self, batch: EventBatch) -> dict[str, int]:
        """Handle the batch's events in order; return counts of processed, duplicate and skipped events, and sends."""
        counts = {"processed": 0, "duplicate": 0, "skipped": 0, "sent": 0}
        for event in batch.events:
            async with self._lock(batch):
                if isinstance(event, InboundMessage):
                    outcome, sent = await self._message(batch, event)
                else:
                    outcome, sent = await self._status(batch, event), 0
            counts[outcome] += 1
            counts["sent"] += sent
        log.info("whatsapp_events_handled", tenant_id=str(batch.tenant_id), **counts)
        return counts

    def _lock(self, batch: EventBatch) -> AbstractAsyncContextManager[None]:
        return self.conversation_lock(batch.tenant_id, batch.wa_id)

    @asynccontextmanager
    async def conversation_lock(self, tenant_id: uuid.UUID, wa_id: str) -> AsyncIterator[None]:
        """Hold the customer's conversation: a short lease, renewed while we work.

        A worker that dies (SIGKILL, OOM) stops renewing, so its lease lapses within
        `whatsapp_lock_lease_s` and the next event for that customer goes ahead; waiting for a live
        holder is bounded by `whatsapp_lock_s` (LockError, and the job is retried).
        """
        lease = self.settings.whatsapp_lock_lease_s
        lock = self.redis.lock(
            f"{CONVERSATION_LOCK}:{tenant_id}:{wa_id}", timeout=lease, blocking_timeout=self.settings.whatsapp_lock_s
        )
        if not await lock.acquire():
            raise LockError(f"conversation {tenant_id}:{wa_id} stayed locked for {self.settings.whatsapp_lock_s:g} s")

        async def renew() -> None:
            while True:
                await asyncio.sleep(lease / 3)
                await lock.reacquire()

        renewing = asyncio.create_task(renew(), name=f"whatsapp-lock:{wa_id}")
        try:
            yield
        finally:
            renewing.cancel()
            await asyncio.gather(renewing, return_exceptions=True)
            with contextlib.suppress(LockError):
                await lock.release()

    async def deliver(self, tenant_id: uuid.UUID, conversation_id: uuid.UUID) -> int:
        """Send a conversation's pending deliveries (a person's reply), under the conversation's lock."""
        async with self.sessions() as session:
            conversation = await session.get(m.Conversation, conversation_id)
            if conversation is None or conversation.tenant_id != tenant_id:
                return 0
            account = await whatsapp_account(session, tenant_id)
            if account is None:
                log.warning("whatsapp_deliver_skipped", tenant_id=str(tenant_id), reason="no WhatsApp account")
                return 0
            async with self.conversation_lock(tenant_id, conversation.external_ref):
                return await deliver_pending(
                    session, self.api, account=account, conversation=conversation, clock=self.clock
                )

    async def _message(self, batch: EventBatch, event: InboundMessage) -> tuple[Outcome, int]:
        async with self.sessions() as session:
            fresh = await _claim(session, batch.tenant_id, event.id)
            target = await _target(session, batch)
            if target is None:
                return "skipped", 0
            tenant, account = target
            if fresh:
                conversation: m.Conversation | None = await self._record(session, tenant, account, batch, event)
                await session.commit()
            else:
                log.info("whatsapp_duplicate_message", message_id=event.id)
                conversation = await _find_conversation(session, tenant.id, batch.wa_id)
            if conversation is None:
                return "duplicate", 0
            sent = await deliver_pending(
                session, self.api, account=account, conversation=conversation, clock=self.clock
            )
            return ("processed" if fresh else "duplicate"), sent

    async def _record(
        self,
        session: AsyncSession,
        tenant: m.Tenant,
        account: m.ChannelAccount,
        batch: EventBatch,
        event: InboundMessage,
    ) -> m.Conversation:
        """Store the message and whatever answers it, with the answer's planned deliveries; the caller commits."""
        now = self.clock()
        customer = await _customer(session, tenant.id, batch.wa_id)
        conversation = await _conversation(session, tenant.id, batch.wa_id, customer)
        if event.kind == InboundKind.REACTION:
            session.add(_inbound(tenant.id, conversation, event, event.meta.get("emoji", ""), now))
            return conversation
        last = conversation.last_inbound_at
        conversation.last_inbound_at = event.timestamp if last is None else max(last, event.timestamp)
        said = keyword(event.text)

        async def answer(text: str, kind: m.DeliveryKind, reason: str) -> None:
            reply = _reply(tenant.id, conversation, text, event, reason, self.clock())
            session.add(reply)
            await session.flush()
            plan(session, conversation=conversation, message=reply, account_config=account.config, kind=kind, now=now)

        if said == "opt_out" or (said == "opt_in" and conversation.opted_out_at is not None):
            session.add(_inbound(tenant.id, conversation, event, event.text or "", now))
            if said == "opt_out" and conversation.opted_out_at is not None:
                return conversation  # confirmed once already
            conversation.opted_out_at = now if said == "opt_out" else None
            if customer is not None:
                customer.whatsapp_opt_in = said == "opt_in"
            text = opted_out_reply(tenant.name) if said == "opt_out" else opted_in_reply(tenant.name)
            await answer(text, m.DeliveryKind.NOTICE, said)
            session.add(
                m.AuditEvent(
                    tenant_id=tenant.id,
                    actor=f"customer:{m.Channel.WHATSAPP}:{batch.wa_id}",
                    action=f"whatsapp.{said}",
                    subject=str(conversation.id),
                    data={"message_id": event.id, "customer_id": str(customer.id) if customer else None},
                )
            )
            return conversation
        if conversation.opted_out_at is not None or conversation.status == m.ConversationStatus.HUMAN:
            session.add(_inbound(tenant.id, conversation, event, event.text or _placeholder(event), now))
            return conversation
        if event.text is None:
            session.add(_inbound(tenant.id, conversation, event, _placeholder(event), now))
            if event.kind == InboundKind.IMAGE:
                await answer(UNCAPTIONED_IMAGE_REPLY, m.DeliveryKind.REPLY, "uncaptioned_image")
            else:
                await answer(unsupported_reply(event.unsupported_name), m.DeliveryKind.REPLY, "unsupported")
            return conversation
        request_id = uuid.uuid4().hex
        speaker = Speaker(
            audience=Audience.CUSTOMER,
            channel=m.Channel.WHATSAPP,
            external_ref=batch.wa_id,
            customer_id=customer.id if customer else None,
            customer_phone=batch.wa_id,
        )
        result = await self.conversations.turn(
            session=session, tenant=tenant, speaker=speaker, text=event.text, request_id=request_id
        )
        stored = await session.execute(
            select(m.Message).where(
                m.Message.conversation_id == conversation.id,
                m.Message.role == Audience.CUSTOMER.value,
                m.Message.external_id.is_(None),
            )
        )
        for inbound in stored.scalars():
            if inbound.meta.get("request_id") == request_id:
                inbound.external_id = event.id
                inbound.meta = {**inbound.meta, "whatsapp": _whatsapp_meta(event)}
        reply = await session.get(m.Message, result.message_id)
        assert reply is not None  # the turn just stored it
        plan(session, conversation=conversation, message=reply, account_config=account.config, now=now)
        return conversation

    async def _status(self, batch: EventBatch, event: StatusUpdate) -> Outcome:
        async with self.sessions() as session:
            if not await _claim(session, batch.tenant_id, f"{event.id}:{event.status}"):
                return "duplicate"
            found = await session.execute(
                select(m.MessageDelivery).where(
                    m.MessageDelivery.tenant_id == batch.tenant_id, m.MessageDelivery.external_id == event.id
                )
            )
            delivery = found.scalar_one_or_none()
            if delivery is None:
                log.info("whatsapp_status_unmatched", message_id=event.id, status=event.status)
            else:
                apply_status(delivery, event)
            await session.commit()
            return "processed"


async def _claim(session: AsyncSession, tenant_id: uuid.UUID, key: str) -> bool:
    """Claim an event in this transaction; False (and counted as a dedupe) when another try already committed it."""
    session.add(m.ProcessedWebhookEvent(tenant_id=tenant_id, source=WEBHOOK_SOURCE, event_key=key))
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        observe_webhook_dedupe(WEBHOOK_SOURCE)
        return False
    return True


async def _target(session: AsyncSession, batch: EventBatch) -> tuple[m.Tenant, m.ChannelAccount] | None:
    found = await session.execute(
        select(m.Tenant, m.ChannelAccount)
        .join(m.ChannelAccount, m.ChannelAccount.tenant_id == m.Tenant.id)
        .where(
            m.Tenant.id == batch.tenant_id,
            m.ChannelAccount.channel == m.Channel.WHATSAPP,
            m.ChannelAccount.external_id == batch.phone_number_id,
        )
    )
    row = found.one_or_none()
    if row is None or not row[0].active:
        log.warning("whatsapp_events_skipped", tenant_id=str(batch.tenant_id), reason="no active tenant or account")
        return None
    return row[0], row[1]


async def whatsapp_account(session: AsyncSession, tenant_id: uuid.UUID) -> m.ChannelAccount | None:
    """The tenant's WhatsApp number that sends replies not prompted by a webhook (the first one connected)."""
    found = await session.execute(
        select(m.ChannelAccount)
        .where(m.ChannelAccount.tenant_id == tenant_id, m.ChannelAccount.channel == m.Channel.WHATSAPP)
        .order_by(m.ChannelAccount.created_at)
        .limit(1)
    )
    return found.scalar_one_or_none()


async def _customer(session: AsyncSession, tenant_id: uuid.UUID, wa_id: str) -> m.Customer | None:
    digits = wa_id.lstrip("+")
    found = await session.execute(
        select(m.Customer)
        .where(m.Customer.tenant_id == tenant_id, m.Customer.phone.in_([f"+{digits}", digits]))
        .order_by(m.Customer.created_at)
        .limit(1)
    )
    return found.scalar_one_or_none()


async def _find_conversation(session: AsyncSession, tenant_id: uuid.UUID, wa_id: str) -> m.Conversation | None:
    found = await session.execute(
        select(m.Conversation).where(
            m.Conversation.tenant_id == tenant_id,
            m.Conversation.channel == m.Channel.WHATSAPP,
            m.Conversation.external_ref == wa_id,
        )
    )
    return found.scalar_one_or_none()


async def _conversation(
    session: AsyncSession, tenant_id: uuid.UUID, wa_id: str, customer: m.Customer | None
) -> m.Conversation:
    conversation = await _find_conversation(session, tenant_id, wa_id)
    if conversation is None:
        conversation = m.Conversation(
            tenant_id=tenant_id,
            channel=m.Channel.WHATSAPP,
            external_ref=wa_id,
            customer_id=customer.id if customer else None,
        )
        session.add(conversation)
        await session.flush()
    elif conversation.customer_id is None and customer is not None:
        conversation.customer_id = customer.id
    return conversation


def _whatsapp_meta(event: InboundMessage) -> dict[str, Any]:
    return {
        "type": event.type,
        "kind": event.kind.value,
        "sent_at": event.timestamp.isoformat(),
        "profile_name": event.profile_name,
        **event.meta,
    }


def _placeholder(event: InboundMessage) -> str:
    return f"[{event.type}]"


def _inbound(
    tenant_id: uuid.UUID, conversation: m.Conversation, event: InboundMessage, content: str, now: datetime
) -> m.Message:
    return m.Message(
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        role=Audience.CUSTOMER.value,
        content=content,
        external_id=event.id,
        created_at=now,
        meta={"whatsapp": _whatsapp_meta(event)},
    )


def _reply(
    tenant_id: uuid.UUID, conversation: m.Conversation, text: str, event: InboundMessage, reason: str, now: datetime
) -> m.Message:
    return m.Message(
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        role="assistant",
        content=text,
        engine="deterministic",
        created_at=now,
        meta={"whatsapp": {"in_reply_to": event.id, "reason": reason}},
    )


class LazyConversations:
    """The worker's conversation graph: built once, on the first WhatsApp job, and kept until the worker stops.

    Built lazily, a worker that never sees a WhatsApp message never opens a checkpointer, and a worker's start
    never races the API process's checkpointer setup on a fresh Postgres database (LangGraph's `setup()` is not
    safe to run twice at once there; a loser of that race tries again).
    """

    SETUP_ATTEMPTS = 3

    def __init__(self, resources: JobResources, jobs: JobQueue) -> None:
        self.resources = resources
        self.jobs = jobs
        self._stack = AsyncExitStack()
        self._lock = asyncio.Lock()
        self._conversations: Conversations | None = None

    async def get(self) -> Conversations:
        async with self._lock:
            if self._conversations is None:
                self._conversations = await self._open()
        return self._conversations

    async def _open(self) -> Conversations:
        settings = self.resources.settings
        for attempt in range(1, self.SETUP_ATTEMPTS + 1):
            try:
                saver = await self._stack.enter_async_context(
                    open_checkpointer(settings.resolved_database_url, settings.data_dir)
                )
                break
            except _SETUP_RACE:
                if attempt == self.SETUP_ATTEMPTS:
                    raise
                log.info("checkpointer_setup_raced", attempt=attempt)
                await asyncio.sleep(0.2 * attempt)
        traces = TraceStore(settings.otlp_endpoint)
        self._stack.callback(traces.close)
        return Conversations(
            build_graph(saver),
            self.resources.gateway,
            DeterministicEngine(),
            self.resources.sessions,
            jobs=self.jobs,
            traces=traces,
            deadlines=TurnDeadlines.from_settings(settings),
        )

    async def aclose(self) -> None:
        await self._stack.aclose()


@asynccontextmanager
async def provide_conversations(resources: JobResources, *, jobs: JobQueue) -> AsyncIterator[LazyConversations]:
    """Give the worker's tasks one lazily built conversation graph."""
    conversations = LazyConversations(resources, jobs)
    try:
        yield conversations
    finally:
        with anyio.CancelScope(shield=True):  # a worker stops by cancelling its lifespan
            await conversations.aclose()


@asynccontextmanager
async def _closing(context: AbstractAsyncContextManager[T]) -> AsyncIterator[T]:
    """Enter `context` and close it even inside a cancelled scope: a worker stops by cancelling its lifespan."""
    stack = AsyncExitStack()
    value = await stack.enter_async_context(context)
    try:
        yield value
    finally:
        with anyio.CancelScope(shield=True):
            await stack.aclose()


def register_jobs(queue: JobQueue) -> None:
    """Register the WhatsApp events job and the graph and Graph API client its worker keeps open."""
    queue.provide(CONVERSATIONS, partial(provide_conversations, jobs=queue))
    queue.provide(GRAPH_API, lambda resources: _closing(open_graph_api(resources.settings)))

    async def channel() -> WhatsAppChannel:
        res = queue.resources
        return WhatsAppChannel(
            sessions=res.sessions,
            redis=res.redis,
            conversations=await res.extra[CONVERSATIONS].get(),
            api=res.extra[GRAPH_API],
            settings=res.settings,
        )

    @queue.task(EVENTS_TASK, timeout_s=EVENTS_TIMEOUT_S)
    async def whatsapp_events(payload: dict[str, Any]) -> dict[str, int]:
        return await (await channel()).handle(EventBatch.model_validate(payload))

    @queue.task(DELIVER_TASK, timeout_s=EVENTS_TIMEOUT_S)
    async def whatsapp_deliver(tenant_id: str, conversation_id: str) -> int:
        return await (await channel()).deliver(uuid.UUID(tenant_id), uuid.UUID(conversation_id))
