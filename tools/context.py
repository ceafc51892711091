"""Say who a tool runs for: tenant, audience, channel and identity come from here, never from model arguments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

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

    @property
    def data(self) -> TenantData:
        """Repositories bound to this tenant: the only way tools reach tenant rows."""
        return TenantData(self.session, self.tenant_id)
