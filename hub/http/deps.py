"""Resolve per-request resources: the database session and the authenticated caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

import redis.asyncio as aioredis
import structlog
from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.audit.events import record
from hub.db import models as m
from hub.gateway.gateway import Gateway
from hub.http.clients import client_of
from hub.http.errors import ApiError
from hub.jobs import JobQueue
from hub.metrics import AUTH_FAILURES, AUTH_LOCKOUTS, AUTH_THROTTLED
from hub.settings import Settings
from hub.tenancy.admin import Caller, authenticate_key
from hub.tenancy.guessing import Subject, key_guesses
from hub.tenancy.key_usage import KeyUsage
from hub.tenancy.repository import TenantData

log = structlog.get_logger(__name__)
_key_header = APIKeyHeader(name="X-Hub-Key", auto_error=False, description="A tenant API key.")


@dataclass
class Resources:
    """What the app holds open for its lifetime; built by the app's lifespan (`service.app`)."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    gateway: Gateway
    jobs: JobQueue
    """Open for enqueueing; the workers run the jobs."""
    key_usage: KeyUsage
    """Notes each key's use; writes `last_used_at` in the background, never on the request path."""


def resources(request: Request) -> Resources:
    return request.app.state.resources


async def db_session(res: Annotated[Resources, Depends(resources)]) -> AsyncIterator[AsyncSession]:
    async with res.sessions() as session:
        yield session


Session = Annotated[AsyncSession, Depends(db_session)]


@dataclass(frozen=True)
class Authenticated:
    caller: Caller
    data: TenantData
    """Repositories bound to the caller's tenant: the only way routes reach tenant rows."""


def require_key(*roles: m.ApiKeyRole) -> Callable[..., Coroutine[Any, Any, Authenticated]]:
    """Build a dependency that admits a valid key with one of `roles`, or answers 401/403."""
    allowed = ", ".join(roles)

    async def dependency(
        request: Request, session: Session, key: Annotated[str | None, Depends(_key_header)]
    ) -> Authenticated:
        if not key:
            raise ApiError(401, "missing_key", "X-Hub-Key header is required")
        res = resources(request)
        guesses = key_guesses(res.redis, res.settings)
        client = {Subject.CLIENT: client_of(request, res.settings.trusted_proxies)}
        # Refused before the key is looked at, a valid one too: a guesser learns nothing while locked out.
        if (refused := await guesses.check(client)) is not None:
            AUTH_THROTTLED.labels("api_key").inc()
            raise ApiError(
                429,
                "too_many_invalid_keys",
                refused.message("invalid API keys from this address"),
                headers={"Retry-After": str(refused.retry_after_s)},
            )
        caller = await authenticate_key(session, key)
        if caller is None:
            AUTH_FAILURES.labels("api_key").inc()
            if await guesses.failed(client, counted=False):
                await _audit_key_lockout(res, client[Subject.CLIENT])
            raise ApiError(401, "invalid_key", "unknown or revoked API key")
        request.state.tenant_id = caller.tenant_id
        structlog.contextvars.bind_contextvars(tenant_id=str(caller.tenant_id), key=caller.key_prefix)
        if caller.role not in roles:
            raise ApiError(403, "wrong_key_role", f"this endpoint needs a key with role {allowed}; got {caller.role}")
        resources(request).key_usage.seen(caller.key_prefix)
        return Authenticated(caller=caller, data=TenantData(session, caller.tenant_id))

    return dependency


async def _audit_key_lockout(res: Resources, client: str) -> None:
    """Record that an address was locked out for invalid keys (its own transaction: the request fails)."""
    AUTH_LOCKOUTS.labels("api_key", Subject.CLIENT).inc()
    log.warning("api_key_guessing_locked_out", client=client, lockout_s=res.settings.key_lockout_s)
    async with res.sessions() as session:
        await record(
            session,
            actor=f"client:{client}",
            action="api_key.locked_out",
            tenant_id=None,
            subject=client,
            data={"scope": Subject.CLIENT, "lockout_s": res.settings.key_lockout_s},
        )
        await session.commit()


Storefront = Annotated[
    Authenticated, Depends(require_key(m.ApiKeyRole.STOREFRONT, m.ApiKeyRole.OPERATOR, m.ApiKeyRole.ADMIN))
]
OperatorKey = Annotated[Authenticated, Depends(require_key(m.ApiKeyRole.OPERATOR, m.ApiKeyRole.ADMIN))]
AdminKey = Annotated[Authenticated, Depends(require_key(m.ApiKeyRole.ADMIN))]
