"""Say who a tool runs for: tenant, audience, channel and identity come from here, never from model arguments."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

from sqlalchemy.ext.asyncio import AsyncSession

from hub.db.models import Channel
from hub.jobs import JobQueue
from hub.settings import Settings
from hub.tenancy.repository import TenantData


class Audience(StrEnum):
    CUSTOMER = "customer"
    """A shopper on the storefront widget or WhatsApp: engagement tools only, scoped to themselves."""
    OPERATOR = "operator"
    """A shop's staff in the console: every tool, for their own tenant only."""


EVERYONE = frozenset(Audience)
"""Customers and operators alike: the read-only engagement tools."""
OPERATOR_ONLY = frozenset({Audience.OPERATOR})
"""The shop's staff alone: CRM, SEO and photography tools."""


class ToolError(Exception):
    """A failure the model or the person can act on; the message names the bad value."""


class PermissionDenied(ToolError):
    """The caller's audience may not use this tool; raised where the tool executes, whatever the prompt said."""


@dataclass(frozen=True)
class ToolContext:
    session: AsyncSession
    tenant_id: uuid.UUID
    audience: Audience
    channel: Channel
    customer_id: uuid.UUID | None = None
    """The customer this conversation is verified to belong to (e.g. by WhatsApp number), if any."""
    operator_id: uuid.UUID | None = None
    jobs: JobQueue | None = None
    """The background job queue, for tools that start long work (bulk SEO copy); None where none runs."""
    settings: Settings | None = None
    """The service's settings, for tools that touch files or limits (photo requests); None in bare contexts."""
    conversation_ref: str | None = None
    """The conversation's key on its channel (widget session, WhatsApp number): a request a shopper is asked to
    confirm belongs to the conversation that proposed it."""
    turn_id: str | None = None
    """The turn the tool runs in (its trace id): a confirmation must come in a later turn than the proposal."""
    said: str | None = None
    """The message this turn answers, as the person wrote it: a shopper's confirmation must say yes in it."""

    @cached_property
    def data(self) -> TenantData:
        """Repositories bound to this tenant: the only way tools reach tenant rows."""
        return TenantData(self.session, self.tenant_id)


SessionOpener = Callable[[], AbstractAsyncContextManager[AsyncSession]]
"""Opens a database session for one step, e.g. an `async_sessionmaker`."""


def shared_session(session: AsyncSession) -> SessionOpener:
    """An opener that hands out `session` itself and leaves it open: every step shares the caller's session."""

    @asynccontextmanager
    async def opener() -> AsyncIterator[AsyncSession]:
        yield session

    return opener


@dataclass
class ToolScope:
    """Who a turn's tools run for, and where each step of the turn gets its database session.

    A turn waits on models for seconds; a transaction held meanwhile would pin a pooled Postgres connection and,
    on SQLite, block every writer of every tenant. So each graph step that touches the database opens a short
    session (`open`), which commits when the step ends, and a model-backed tool ends its step's transaction
    before its model call (`release`, which the gateway awaits before it waits on the network).
    """

    opener: SessionOpener
    tenant_id: uuid.UUID
    audience: Audience
    channel: Channel
    customer_id: uuid.UUID | None = None
    operator_id: uuid.UUID | None = None
    jobs: JobQueue | None = None
    conversation_ref: str | None = None
    turn_id: str | None = None
    said: str | None = None
    commit: bool = True
    """False for a replay: its steps share the replay's session, which is rolled back, and nothing is committed."""
    _open: AsyncSession | None = field(default=None, init=False, repr=False)

    @asynccontextmanager
    async def open(self, *, beside: bool = False) -> AsyncIterator[ToolContext]:
        """A tool context on a session of its own for one step; committed when the step ends without error.

        `beside`: for work that runs alongside the step (in a task of its own), whose session the step's `release`
        must not touch.
        """
        async with self.opener() as session:
            if not beside:
                self._open = session
            try:
                yield ToolContext(
                    session=session,
                    tenant_id=self.tenant_id,
                    audience=self.audience,
                    channel=self.channel,
                    customer_id=self.customer_id,
                    operator_id=self.operator_id,
                    jobs=self.jobs,
                    conversation_ref=self.conversation_ref,
                    turn_id=self.turn_id,
                    said=self.said,
                )
                if self.commit:
                    await session.commit()
            finally:
                if not beside:
                    self._open = None

    async def release(self) -> None:
        """End the open step's transaction (keeping what it wrote) before the step waits on the network."""
        if self.commit and self._open is not None and self._open.in_transaction():
            await self._open.commit()
