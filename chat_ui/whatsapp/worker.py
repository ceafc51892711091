"""Handle WhatsApp webhooks in the job worker: split per customer, dedupe, answer through the conversation graph, send.

A job carries one webhook's raw body and the phone numbers the webhook verified it for. The worker parses it
and splits it per customer. Statuses go to the worker's `StatusLedger`, which applies the statuses of many
jobs in one transaction. Each customer's messages are handled in the order WhatsApp sent them, each under a
Redis lock on its (tenant, customer), so two workers never act on one conversation at once, and the graph sees
a customer's messages one at a time.

An inbound message is handled without holding the database: one short read (was it handled before, who is the
customer, what is their conversation), the turn (which holds nothing while a model thinks), then one short
transaction that claims the message in `processed_webhook_events`, stores it with whatever answers it, and plans
the reply's deliveries. A redelivery, or a second worker, finds the claim and sends nothing new, while a crash
before the commit leaves it unclaimed, so the retried job does it all again. The sends happen after that
commit, from the outbox (`chat_ui.whatsapp.outbox`), which every try drains, duplicate or not: a crash between
the commit and the send leaves the reply pending, and the next try sends it; a crash once a send was claimed
leaves it `sending`, and the next try marks it `unconfirmed` instead of sending it twice.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import anyio
import redis.asyncio as aioredis
import structlog
from sqlalchemy import exists, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from chat_ui.handoff_news import announce_handoff
from chat_ui.whatsapp.accounts import Account, AccountDirectory, open_accounts
from chat_ui.whatsapp.constants import (
    ACCOUNTS,
    CONVERSATION_LOCK,
    DELIVER_TASK,
    EVENTS_TASK,
    GRAPH_API,
    STATUSES,
    WEBHOOK_SOURCE,
    WEBHOOK_TASK,
)
from chat_ui.whatsapp.events import (
    EventBatch,
    InboundKind,
    InboundMessage,
    MalformedBody,
    StatusUpdate,
    batches,
    read_webhook,
)
from chat_ui.whatsapp.graph_api import GraphApi, open_graph_api
from chat_ui.whatsapp.ledger import claim
from chat_ui.whatsapp.outbox import deliver_pending, plan
from chat_ui.whatsapp.rating import rating_choices, rating_target, tapped_rating, thanks
from chat_ui.whatsapp.statuses import StatusLedger
from graphs.process import CONVERSATIONS
from graphs.turns import Conversations, Speaker, TurnResult
from hub.audit.events import record
from hub.db import models as m
from hub.encryption import SecretBox
from hub.feedback import assistant_message, rate
from hub.jobs import JobQueue, JobResources
from hub.leases import held
from hub.metrics import observe_webhook_dedupe
from hub.quality import maybe_judge
from hub.settings import Settings
from hub.tenancy.changes import announcing
from hub.tenancy.repository import TenantData
from tools.context import Audience

log = structlog.get_logger(__name__)

EVENTS_TIMEOUT_S = 900
"""One job: every event of one webhook, each possibly waiting its turn for its customer's lock."""
_OPT_OUT = re.compile(r"(stop|unsubscribe|opt[\s-]?out)[\s.!]*", re.IGNORECASE)
_OPT_IN = re.compile(r"start[\s.!]*", re.IGNORECASE)
Keyword = Literal["opt_out", "opt_in"]
Outcome = Literal["processed", "duplicate", "skipped"]
T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class Seen:
    """What the database knew of an inbound message's customer before handling it (one query)."""

    claimed: bool
    """The message was handled before: a redelivery."""
    pending: bool
    """The conversation has deliveries waiting from before (a send that failed, or one a stopped worker claimed):
    they are settled first."""
    customer_id: uuid.UUID | None
    """The shop's customer with this WhatsApp number, if any."""
    conversation: m.Conversation | None
    """Detached; None before the customer's first message."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A stored message to deliver: what `plan` needs of it."""

    id: uuid.UUID
    content: str


@dataclass(frozen=True)
class WhatsAppChannel:
    """What a worker needs to handle webhooks; built per job from the worker's resources."""

    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    conversations: Conversations
    api: GraphApi
    settings: Settings
    accounts: AccountDirectory
    statuses: StatusLedger
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    jobs: JobQueue | None = None
    """Where a handoff's alert to the shop's consoles is published; None: no alert (the handoff list still shows it)."""

    async def handle_webhook(self, body: str, tenants: Mapping[str, str]) -> dict[str, int]:
        """Handle one webhook's events for the numbers it was verified for; return counts of processed, duplicate
        and skipped events, and sends."""
        verified = {number: uuid.UUID(tenant_id) for number, tenant_id in tenants.items()}
        try:
            webhook = read_webhook(body)  # its malformed parts were reported by the webhook that queued it
        except MalformedBody as exc:  # not queued by this version's webhook: dropped, never retried
            exc.report()
            return dict.fromkeys(("processed", "duplicate", "skipped", "sent"), 0)
        return await self.handle(batches(webhook, verified))

    async def handle(self, customers: list[EventBatch]) -> dict[str, int]:
        """Apply the statuses together, and each customer's messages in order (customers side by side)."""
        counts: Counter[str] = Counter(processed=0, duplicate=0, skipped=0, sent=0)
        targets = {(b.phone_number_id, b.tenant_id): await self._target(b) for b in customers}
        by_tenant: dict[uuid.UUID, list[StatusUpdate]] = {}
        for batch in customers:
            found = [e for e in batch.events if isinstance(e, StatusUpdate)]
            if found and targets[(batch.phone_number_id, batch.tenant_id)] is None:
                counts["skipped"] += len(found)
            elif found:
                by_tenant.setdefault(batch.tenant_id, []).extend(found)
        work = [self._customer(targets[(b.phone_number_id, b.tenant_id)], b) for b in customers]
        work += [self.statuses.apply(tenant_id, updates) for tenant_id, updates in by_tenant.items()]
        for done in await asyncio.gather(*work):
            counts.update(done)
        result = dict(counts)
        log.info("whatsapp_events_handled", customers=len(customers), **result)
        return result

    async def _target(self, batch: EventBatch) -> Account | None:
        account = await self.accounts.find(batch.phone_number_id)
        if account is None or account.tenant_id != batch.tenant_id or not account.active:
            log.warning("whatsapp_events_skipped", tenant_id=str(batch.tenant_id), reason="no active tenant or account")
            return None
        return account

    async def _customer(self, account: Account | None, batch: EventBatch) -> Counter[str]:
        counts: Counter[str] = Counter()
        for event in batch.events:
            if not isinstance(event, InboundMessage):
                continue
            if account is None:
                counts["skipped"] += 1
                continue
            async with self.conversation_lock(batch.tenant_id, batch.wa_id):
                outcome, sent = await self._message(account, batch.wa_id, event)
            counts[outcome] += 1
            counts["sent"] += sent
        return counts

    @asynccontextmanager
    async def conversation_lock(self, tenant_id: uuid.UUID, wa_id: str) -> AsyncIterator[None]:
        """Hold the customer's conversation: a short lease, renewed while we work (`hub.leases`).

        A worker that dies (SIGKILL, OOM) stops renewing, so its lease lapses within
        `whatsapp_lock_lease_s` and the next event for that customer goes ahead; waiting for a live
        holder is bounded by `whatsapp_lock_s` (LockError, and the job is retried).
        """
        key = f"{CONVERSATION_LOCK}:{tenant_id}:{wa_id}"
        async with held(
            self.redis, key, lease_s=self.settings.whatsapp_lock_lease_s, wait_s=self.settings.whatsapp_lock_s
        ):
            yield

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

    async def _message(self, account: Account, wa_id: str, event: InboundMessage) -> tuple[Outcome, int]:
        tenant = account.tenant
        async with self.sessions() as session:
            seen = await _seen(session, tenant.id, wa_id, event.id)
            conversation = seen.conversation
            if conversation is None and not seen.claimed:
                conversation = await TenantData(session, tenant.id).conversations.open(
                    m.Channel.WHATSAPP, wa_id, customer_id=seen.customer_id
                )
                await session.commit()
        if seen.claimed:
            observe_webhook_dedupe(WEBHOOK_SOURCE)
            log.info("whatsapp_duplicate_message", message_id=event.id)
            return "duplicate", await self._drain(account, conversation)
        assert conversation is not None
        speaker = Speaker(
            audience=Audience.CUSTOMER,
            channel=m.Channel.WHATSAPP,
            external_ref=wa_id,
            customer_id=seen.customer_id,
            customer_phone=wa_id,
        )
        async with self.sessions() as session:
            answered: list[TurnResult] = []
            planned = await self._record(session, account, conversation, seen.customer_id, speaker, event, answered)
            if not await claim(session, [(tenant.id, event.id)]):
                await session.rollback()  # another worker committed it meanwhile
                log.info("whatsapp_duplicate_message", message_id=event.id)
                return "duplicate", await self._drain(account, conversation)
            await session.commit()
            for result in answered:
                await announce_handoff(session, self.jobs, tenant.id, result)
                await maybe_judge(self.jobs, self.settings, tenant.id, result.message_id)
            if not planned and not seen.pending:
                return "processed", 0
            sent = await deliver_pending(
                session,
                self.api,
                account=account,
                conversation=conversation,
                clock=self.clock,
                pending=None if seen.pending else planned,
            )
        return "processed", sent

    async def _drain(self, account: Account, conversation: m.Conversation | None) -> int:
        if conversation is None:
            return 0
        async with self.sessions() as session:
            return await deliver_pending(
                session, self.api, account=account, conversation=conversation, clock=self.clock
            )

    async def _record(
        self,
        session: AsyncSession,
        account: Account,
        conversation: m.Conversation,
        customer_id: uuid.UUID | None,
        speaker: Speaker,
        event: InboundMessage,
        answered: list[TurnResult],
    ) -> list[m.MessageDelivery]:
        """Add the message and whatever answers it, with the answer's planned deliveries (returned); the caller
        commits. A turn the bot ran is appended to `answered`, for what follows the commit (a handoff's alert).

        `conversation` is detached: its changes are written with one UPDATE (the turn's own, when a turn runs), and
        its attributes changed in memory for `plan` to see.
        """
        tenant = account.tenant
        now = self.clock()
        changes: dict[str, Any] = {}
        if conversation.customer_id is None and customer_id is not None:
            changes["customer_id"] = conversation.customer_id = customer_id

        async def write_changes() -> None:
            if changes:
                await session.execute(
                    update(m.Conversation).where(m.Conversation.id == conversation.id).values(changes)
                )

        def answer(text: str, kind: m.DeliveryKind, reason: str) -> list[m.MessageDelivery]:
            reply = _reply(tenant.id, conversation, text, event, reason, self.clock())
            session.add(reply)
            return plan(
                session, conversation=conversation, message=reply, account_config=account.config, kind=kind, now=now
            )

        if event.kind == InboundKind.REACTION:
            session.add(_inbound(tenant.id, conversation, event, event.meta.get("emoji", ""), now))
            await write_changes()
            return []
        last = conversation.last_inbound_at
        changes["last_inbound_at"] = conversation.last_inbound_at = (
            event.timestamp if last is None else max(last, event.timestamp)
        )
        said = keyword(event.text)
        if said == "opt_out" or (said == "opt_in" and conversation.opted_out_at is not None):
            session.add(_inbound(tenant.id, conversation, event, event.text or "", now))
            if said == "opt_out" and conversation.opted_out_at is not None:
                await write_changes()
                return []  # confirmed once already
            changes["opted_out_at"] = conversation.opted_out_at = now if said == "opt_out" else None
            if customer_id is not None:
                await session.execute(
                    update(m.Customer).where(m.Customer.id == customer_id).values(whatsapp_opt_in=said == "opt_in")
                )
            text = opted_out_reply(tenant.name) if said == "opt_out" else opted_in_reply(tenant.name)
            planned = answer(text, m.DeliveryKind.NOTICE, said)
            await record(
                session,
                tenant_id=tenant.id,
                actor=f"customer:{m.Channel.WHATSAPP}:{speaker.external_ref}",
                action=f"whatsapp.{said}",
                subject=str(conversation.id),
                data={"message_id": event.id, "customer_id": str(customer_id) if customer_id else None},
            )
            await write_changes()
            return planned
        if conversation.opted_out_at is not None or conversation.status == m.ConversationStatus.HUMAN:
            session.add(_inbound(tenant.id, conversation, event, event.text or _placeholder(event), now))
            await write_changes()
            return []
        if event.text is None:
            session.add(_inbound(tenant.id, conversation, event, _placeholder(event), now))
            if event.kind == InboundKind.IMAGE:
                planned = answer(UNCAPTIONED_IMAGE_REPLY, m.DeliveryKind.REPLY, "uncaptioned_image")
            else:
                planned = answer(unsupported_reply(event.unsupported_name), m.DeliveryKind.REPLY, "unsupported")
            await write_changes()
            return planned
        tapped = tapped_rating(event)
        if tapped is not None:  # a tap on the rating buttons after a resolved conversation: no turn
            session.add(_inbound(tenant.id, conversation, event, event.text or "", now))
            await record_rating(session, tenant.id, conversation, *tapped)
            planned = answer(thanks(conversation.language), m.DeliveryKind.REPLY, "rating")
            await write_changes()
            return planned
        result = await self.conversations.turn(
            session=session,
            tenant=tenant,
            speaker=speaker,
            text=event.text,
            request_id=uuid.uuid4().hex,
            inbound_meta={"whatsapp": _whatsapp_meta(event)},
            inbound_external_id=event.id,
            conversation=conversation,
            conversation_update=changes,
        )
        answered.append(result)
        reply = Reply(result.message_id, result.reply)
        resolved = await rating_target(session, conversation, result, event.text)
        return plan(
            session,
            conversation=conversation,
            message=reply,
            account_config=account.config,
            now=now,
            choices=result.quick_replies if resolved is None else rating_choices(resolved, result.language),
            language=result.language,
        )


async def record_rating(
    session: AsyncSession, tenant_id: uuid.UUID, conversation: m.Conversation, rating: int, message_id: uuid.UUID
) -> None:
    """Store a shopper's tap on the rating buttons, for a reply of this conversation only (a stale or forged id
    rates nothing; the shopper is thanked all the same)."""
    message = await assistant_message(session, tenant_id, message_id, conversation_id=conversation.id)
    if message is None:
        log.warning("whatsapp_rating_unknown_reply", tenant_id=str(tenant_id), message_id=str(message_id))
        return
    await rate(session, message, source=m.FeedbackSource.SHOPPER, rating=rating, by=f"customer:{m.Channel.WHATSAPP}")


async def _seen(session: AsyncSession, tenant_id: uuid.UUID, wa_id: str, message_id: str) -> Seen:
    """Read in one query whether the message was handled, the customer, their conversation and its pending sends."""
    digits = wa_id.lstrip("+")
    claimed = exists().where(
        m.ProcessedWebhookEvent.source == WEBHOOK_SOURCE, m.ProcessedWebhookEvent.event_key == message_id
    )
    customer = (
        select(m.Customer.id)
        .where(m.Customer.tenant_id == tenant_id, m.Customer.phone.in_([f"+{digits}", digits]))
        .order_by(m.Customer.created_at)
        .limit(1)
        .scalar_subquery()
    )
    pending = exists().where(
        m.MessageDelivery.conversation_id == m.Conversation.id,
        m.MessageDelivery.status.in_((m.DeliveryStatus.PENDING, m.DeliveryStatus.SENDING)),
    )
    keyed = TenantData(session, tenant_id).conversations.keyed(m.Channel.WHATSAPP, wa_id)
    one = select(literal(1).label("one")).subquery()
    row = (
        await session.execute(
            select(claimed.label("claimed"), customer.label("customer_id"), pending.label("pending"), m.Conversation)
            .select_from(one)
            .outerjoin(m.Conversation, keyed)
        )
    ).one()
    return Seen(
        claimed=bool(row.claimed),
        pending=bool(row.pending),
        customer_id=row.customer_id,
        conversation=row.Conversation,
    )


async def whatsapp_account(session: AsyncSession, tenant_id: uuid.UUID) -> m.ChannelAccount | None:
    """The tenant's WhatsApp number that sends replies not prompted by a webhook (the first one connected)."""
    found = await session.execute(
        select(m.ChannelAccount)
        .where(m.ChannelAccount.tenant_id == tenant_id, m.ChannelAccount.channel == m.Channel.WHATSAPP)
        .order_by(m.ChannelAccount.created_at)
        .limit(1)
    )
    return found.scalar_one_or_none()


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
        id=uuid.uuid4(),
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
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        conversation_id=conversation.id,
        role="assistant",
        content=text,
        engine="deterministic",
        created_at=now,
        meta={"whatsapp": {"in_reply_to": event.id, "reason": reason}},
    )


@asynccontextmanager
async def provide_accounts(resources: JobResources) -> AsyncIterator[AccountDirectory]:
    """Give the worker's tasks the WhatsApp accounts in memory; announce the worker's changes to tenants."""
    box = SecretBox(resources.settings.secret_key.get_secret_value())
    async with (
        _closing(announcing(resources.redis)),
        _closing(open_accounts(resources.sessions, resources.redis, box=box)) as a,
    ):
        yield a


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
    """Register the WhatsApp jobs and what their worker keeps open: Graph API client, accounts, statuses. The
    conversation graph is the process's (`graphs.process`), built on the worker's first turn."""
    queue.provide(GRAPH_API, lambda resources: _closing(open_graph_api(resources.settings)))
    queue.provide(ACCOUNTS, provide_accounts)
    queue.provide(STATUSES, _provide_statuses)

    async def channel() -> WhatsAppChannel:
        res = queue.resources
        return WhatsAppChannel(
            sessions=res.sessions,
            redis=res.redis,
            conversations=await res.extra[CONVERSATIONS].get(),
            api=res.extra[GRAPH_API],
            settings=res.settings,
            accounts=res.extra[ACCOUNTS],
            statuses=res.extra[STATUSES],
            jobs=queue,
        )

    @queue.task(WEBHOOK_TASK, timeout_s=EVENTS_TIMEOUT_S)
    async def whatsapp_webhook(payload: dict[str, Any]) -> dict[str, int]:
        return await (await channel()).handle_webhook(payload["body"], payload["tenants"])

    @queue.task(EVENTS_TASK, timeout_s=EVENTS_TIMEOUT_S)
    async def whatsapp_events(payload: dict[str, Any]) -> dict[str, int]:
        return await (await channel()).handle([EventBatch.model_validate(payload)])

    @queue.task(DELIVER_TASK, timeout_s=EVENTS_TIMEOUT_S)
    async def whatsapp_deliver(tenant_id: str, conversation_id: str) -> int:
        return await (await channel()).deliver(uuid.UUID(tenant_id), uuid.UUID(conversation_id))


@asynccontextmanager
async def _provide_statuses(resources: JobResources) -> AsyncIterator[StatusLedger]:
    yield StatusLedger(resources.sessions)
