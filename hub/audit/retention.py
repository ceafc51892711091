"""Purge what a tenant's retention period has run out on: traces, messages, turn audit events, console threads.

Usage rows (`usage`, `usage_daily`) are billing records and are always kept, as are audit events that are not
turns (keys issued, switches flipped, content decisions, opt-outs, earlier purges) and every row of a tenant
without `retention_days`. Deletes run in batches, each committed on its own, so a large backlog never holds
one huge transaction; a purge that stops half way leaves consistent data and the next run finishes it.

The graph's memory of a conversation (LangGraph checkpoints) belongs to `graphs`, which `hub` never imports:
callers pass a `ForgetConversations` hook (the service passes `graphs.checkpoint.checkpoint_forgetter`'s).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import structlog
from pydantic import ValidationError
from sqlalchemy import ColumnElement, CursorResult, Delete, Select, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.audit.events import record
from hub.db import models as m
from hub.tenancy.config import TenantConfig

log = structlog.get_logger(__name__)

BATCH_SIZE = 1000
"""Rows deleted per statement and transaction."""
TURN_ACTIONS = "chat."
"""Audit actions of conversation turns: their data holds tool inputs and outputs, so they age like messages."""
PURGED_ACTION = "retention.purged"

ConversationKey = tuple[uuid.UUID, str, str]
"""(tenant id, channel, external ref): what names a conversation's checkpoint thread."""
ForgetConversations = Callable[[Sequence[ConversationKey]], Awaitable[Any]]
"""Delete the graph memory of these conversations; called before their rows are deleted."""


@dataclass
class PurgeResult:
    """What one tenant's purge deleted (or, in a dry run, would delete), by table."""

    tenant_id: uuid.UUID
    slug: str
    retention_days: int
    cutoff: datetime
    """Rows older than this went."""
    dry_run: bool = False
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Database rows, not counting the checkpoint threads forgotten."""
        return sum(n for table, n in self.deleted.items() if table != "checkpoints")


def retention_days(tenant: m.Tenant) -> int | None:
    """The tenant's retention in days, or None when it keeps everything (or its settings do not validate)."""
    try:
        return TenantConfig.model_validate(tenant.settings or {}).retention_days
    except ValidationError:
        log.warning("retention_settings_invalid", tenant_id=str(tenant.id))
        return None


async def tenants_with_retention(session: AsyncSession) -> list[m.Tenant]:
    tenants = (await session.execute(select(m.Tenant).order_by(m.Tenant.created_at, m.Tenant.id))).scalars()
    return [t for t in tenants if retention_days(t) is not None]


async def purge_all(
    session: AsyncSession,
    now: datetime,
    *,
    forget: ForgetConversations | None = None,
    dry_run: bool = False,
    actor: str = "system",
    batch_size: int = BATCH_SIZE,
) -> list[PurgeResult]:
    """Purge every tenant that has a retention period; tenants without one are not touched."""
    results: list[PurgeResult] = []
    for tenant in await tenants_with_retention(session):
        result = await purge_tenant(
            session, tenant, now, forget=forget, dry_run=dry_run, actor=actor, batch_size=batch_size
        )
        if result is not None:
            results.append(result)
    return results


async def purge_tenant(
    session: AsyncSession,
    tenant: m.Tenant,
    now: datetime,
    *,
    forget: ForgetConversations | None = None,
    dry_run: bool = False,
    actor: str = "system",
    batch_size: int = BATCH_SIZE,
) -> PurgeResult | None:
    """Delete the tenant's rows older than its retention period, committing batch by batch; None without one.

    Records one `retention.purged` audit event with the counts. `forget` deletes the graph memory of each
    conversation removed; without it only SQL rows are purged. A dry run counts and changes nothing.
    """
    days = retention_days(tenant)
    if days is None:
        return None
    result = PurgeResult(
        tenant_id=tenant.id, slug=tenant.slug, retention_days=days, cutoff=now - timedelta(days=days), dry_run=dry_run
    )
    purge = _TenantPurge(session, tenant.id, result.cutoff, dry_run=dry_run, batch_size=batch_size)
    await purge.run(result, forget)
    if not dry_run:
        await record(
            session,
            actor=actor,
            action=PURGED_ACTION,
            tenant_id=tenant.id,
            subject=tenant.slug,
            data={"retention_days": days, "cutoff": result.cutoff.isoformat(), "deleted": result.deleted},
        )
        await session.commit()
        log.info("retention_purged", tenant_id=str(tenant.id), cutoff=result.cutoff.isoformat(), **result.deleted)
    return result


class _TenantPurge:
    """One tenant's purge: each step counts (dry run) or deletes in committed batches."""

    def __init__(
        self, session: AsyncSession, tenant_id: uuid.UUID, cutoff: datetime, *, dry_run: bool, batch_size: int
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.cutoff = cutoff.astimezone(UTC)
        self.dry_run = dry_run
        self.batch_size = batch_size
        # Chainlit writes its timestamps as ISO 8601 text (`2025-03-10T12:00:00.123456Z`), which sorts by time.
        self.cutoff_text = self.cutoff.replace(tzinfo=None).isoformat()

    async def run(self, result: PurgeResult, forget: ForgetConversations | None) -> None:
        deleted = result.deleted
        tid, cutoff = self.tenant_id, self.cutoff
        spans = m.TraceSpan
        deleted["trace_spans"] = await self._delete(spans.id, spans.tenant_id == tid, spans.start_ts < cutoff)

        deleted["message_deliveries"], deleted["messages"] = await self._messages()
        deleted["conversations"], deleted["checkpoints"] = await self._conversations(forget)

        events = m.AuditEvent
        deleted["audit_events"] = await self._delete(
            events.id, events.tenant_id == tid, events.action.startswith(TURN_ACTIONS), events.ts < cutoff
        )
        deleted.update(await self._console())

    async def _messages(self) -> tuple[int, int]:
        """Messages older than the cutoff with their deliveries, a batch of messages per transaction."""
        old = (m.Message.tenant_id == self.tenant_id, m.Message.created_at < self.cutoff)
        d = m.MessageDelivery
        if self.dry_run:
            planned = await self._count(
                d.id, d.tenant_id == self.tenant_id, d.message_id.in_(select(m.Message.id).where(*old))
            )
            return planned, await self._count(m.Message.id, *old)
        deliveries = messages = 0
        while True:
            batch = list(await self.session.scalars(select(m.Message.id).where(*old).limit(self.batch_size)))
            if not batch:
                return deliveries, messages
            # Deliveries would go by cascade; deleting them first counts them.
            stmt = delete(d).where(d.message_id.in_(batch))
            deliveries += await self._bulk_delete(stmt)
            stmt = delete(m.Message).where(m.Message.id.in_(batch))
            messages += await self._bulk_delete(stmt)
            await self.session.commit()
            if len(batch) < self.batch_size:
                return deliveries, messages

    async def _bulk_delete(self, stmt: Delete) -> int:
        """Run a bulk DELETE in the session; return how many rows it removed."""
        # A DML statement's result is a CursorResult, which has the row count; `execute` is typed for any statement.
        done = cast(CursorResult[Any], await self.session.execute(stmt.execution_options(synchronize_session=False)))
        return done.rowcount

    def _idle_conversation(self) -> tuple[ColumnElement[bool], ...]:
        """Conversations untouched since the cutoff with no message left after it (their old ones go first)."""
        recent = exists().where(m.Message.conversation_id == m.Conversation.id, m.Message.created_at >= self.cutoff)
        return m.Conversation.tenant_id == self.tenant_id, m.Conversation.updated_at < self.cutoff, ~recent

    async def _conversations(self, forget: ForgetConversations | None) -> tuple[int, int]:
        idle = self._idle_conversation()
        if self.dry_run:
            n = await self._count(m.Conversation.id, *idle)
            return n, n if forget is not None else 0
        conversations = forgotten = 0
        c = m.Conversation
        while True:
            batch = (
                await self.session.execute(
                    select(c.id, c.tenant_id, c.channel, c.external_ref)
                    .where(*idle)
                    .order_by(c.id)
                    .limit(self.batch_size)
                )
            ).all()
            if not batch:
                return conversations, forgotten
            if forget is not None:
                # Memory first: should the delete below fail, the rows are still there for the next run to find.
                # No transaction stays open meanwhile: the checkpointer's own setup may wait for open ones.
                await self.session.commit()
                await forget([(row.tenant_id, row.channel, row.external_ref) for row in batch])
                forgotten += len(batch)
            # The idle test is repeated: a customer who wrote since the batch was read keeps the conversation.
            stmt = delete(c).where(c.id.in_([row.id for row in batch]), *idle)
            conversations += await self._bulk_delete(stmt)
            await self.session.commit()
            if len(batch) < self.batch_size:
                return conversations, forgotten

    async def _console(self) -> dict[str, int]:
        """The console's Chainlit steps older than the cutoff (with their elements and feedback), then empty threads.

        A console user is one operator (its identifier is the operator id); Chainlit writes these tables with its
        own SQL, so rows are matched by subqueries rather than by ids read back and bound again.
        """
        operator_ids = [
            str(op_id)
            for op_id in await self.session.scalars(select(m.Operator.id).where(m.Operator.tenant_id == self.tenant_id))
        ]
        users, threads, steps = m.console_users, m.console_threads, m.console_steps
        elements, feedbacks = m.console_elements, m.console_feedbacks
        if not operator_ids:
            return {"console_steps": 0, "console_threads": 0, "console_elements": 0, "console_feedbacks": 0}
        tenant_users = select(users.c.id).where(users.c.identifier.in_(operator_ids))
        tenant_threads = select(threads.c.id).where(threads.c.userId.in_(tenant_users))
        old_steps = select(steps.c.id).where(steps.c.threadId.in_(tenant_threads), steps.c.createdAt < self.cutoff_text)
        counts = {
            "console_feedbacks": await self._delete(feedbacks.c.id, feedbacks.c.forId.in_(old_steps)),
            "console_elements": await self._delete(elements.c.id, elements.c.forId.in_(old_steps)),
            "console_steps": await self._delete(
                steps.c.id, steps.c.threadId.in_(tenant_threads), steps.c.createdAt < self.cutoff_text
            ),
        }
        # A thread goes once no step of it is left after the cutoff (the older ones go first, or in a dry run would).
        kept_step = exists().where(
            steps.c.threadId == threads.c.id, or_(steps.c.createdAt >= self.cutoff_text, steps.c.createdAt.is_(None))
        )
        counts["console_threads"] = await self._delete(
            threads.c.id, threads.c.userId.in_(tenant_users), threads.c.createdAt < self.cutoff_text, ~kept_step
        )
        return counts

    async def _count(self, id_column: Any, *where: ColumnElement[bool]) -> int:
        return (await self.session.execute(select(func.count(id_column)).where(*where))).scalar_one()

    async def _delete(self, id_column: Any, *where: ColumnElement[bool]) -> int:
        """Delete the matching rows `batch_size` at a time, committing each batch; return how many went."""
        if self.dry_run:
            return await self._count(id_column, *where)
        table = id_column.table
        total = 0
        while True:
            # The ids are chosen in SQL, never read back and bound: Chainlit's rows keep ids in its own format.
            # correlate(None): the subquery reads the very table the statement deletes from.
            batch: Select[Any] = select(id_column).where(*where).limit(self.batch_size).correlate(None)
            stmt = delete(table).where(id_column.in_(batch))
            deleted = await self._bulk_delete(stmt)
            await self.session.commit()
            total += deleted
            if deleted < self.batch_size:
                return total
