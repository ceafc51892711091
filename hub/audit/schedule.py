"""Run the retention purge from the channel workers: once per UTC day, by whichever worker claims it first."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit.retention import (
    ForgetConversations,
    PurgeResult,
    purge_tenant,
    tenants_with_retention,
)
from hub.constants import RETENTION_PURGE
from hub.db.engine import create_engine, session_factory
from hub.settings import Settings
from hub.workers import every

log = structlog.get_logger(__name__)

CHECK_EVERY = timedelta(minutes=5)
"""How often a worker looks whether today's purge has run."""
RUNNING_TTL = timedelta(minutes=30)
"""How long a claim outlives a worker that died mid-purge; renewed after each tenant while the purge runs."""
DONE_TTL = timedelta(days=2)
"""A day's 'done' mark outlives the day, so the purge runs once per day across every worker."""


def purge_key(now: datetime) -> str:
    return f"{RETENTION_PURGE}:{now.astimezone(UTC).date()}"


async def run_due_purge(
    engine: AsyncEngine,
    redis: aioredis.Redis,
    now: datetime,
    *,
    forget: ForgetConversations | None = None,
    stop: asyncio.Event | None = None,
) -> list[PurgeResult] | None:
    """Run today's purge unless another worker has claimed it; return what this worker purged, None if it did not.

    A tenant whose purge fails is logged and the day is left unfinished, so the next check tries again (what was
    already deleted stays deleted; a purge is safe to repeat).
    """
    key = purge_key(now)
    token = f"running:{uuid.uuid4().hex}"
    if not await redis.set(key, token, nx=True, ex=RUNNING_TTL):
        return None
    results: list[PurgeResult] = []
    finished = True
    try:
        async with session_factory(engine)() as session:
            for tenant in await tenants_with_retention(session):
                if stop is not None and stop.is_set():
                    finished = False
                    break
                try:
                    result = await purge_tenant(session, tenant, now, forget=forget)
                except Exception:
                    log.exception("retention_purge_failed", tenant_id=str(tenant.id))
                    await session.rollback()
                    finished = False
                    continue
                if result is not None:
                    results.append(result)
                if await redis.get(key) == token:
                    await redis.expire(key, RUNNING_TTL)
    except Exception:
        log.exception("retention_purge_failed")
        finished = False
    if await redis.get(key) == token:
        if finished:
            await redis.set(key, "done", ex=DONE_TTL)
        else:
            await redis.delete(key)
    if finished:
        log.info("retention_purge_done", tenants=len(results), deleted=sum(r.total for r in results))
    return results


async def retention_purge_consumer(
    settings: Settings, redis: aioredis.Redis, stop: asyncio.Event, *, forget: ForgetConversations | None
) -> None:
    """Purge every tenant with a retention period once a day, until `stop` is set; `forget` deletes the purged
    conversations' graph memory (the service binds it: a `hub.workers.Consumer` once bound)."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await every(
            CHECK_EVERY.total_seconds(),
            stop,
            lambda: run_due_purge(engine, redis, datetime.now(UTC), forget=forget, stop=stop),
            "retention_purge",
        )
    finally:
        await engine.dispose()
