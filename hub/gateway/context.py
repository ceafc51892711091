"""Carry who a model call is for: tenant, its settings, and the ids that tie it to a request and trace."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from hub.audit.trace import Trace
from hub.tenancy.config import TenantConfig


def _hex_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class CallContext:
    tenant_id: uuid.UUID
    tenant: TenantConfig
    request_id: str = field(default_factory=_hex_id)
    trace_id: str = field(default_factory=_hex_id)
    trace: Trace | None = field(default=None, compare=False)
    """Collects spans for this request's calls when the caller stores a trace (chat turns and replays do)."""
    replay_of: str | None = None
    """The message id a replay re-runs: usage rows carry it, so replays are billed and told apart."""
    release: Callable[[], Awaitable[None]] | None = field(default=None, compare=False)
    """Awaited before the gateway waits on a model: the caller ends its database transaction there, so no
    connection or lock is held across the network call (a turn passes its `ToolScope.release`)."""
