"""Run shop event deliveries on the channel workers: a job per event asked for at once, and a sweeper for the rest.

The job (`shop_events.deliver`) is what `deliver_soon` enqueues after a commit, so an event usually leaves within a
second. The sweeper runs on every channel worker every `shop_webhook_sweep_s` and tries whatever is due: events
whose enqueue was lost or never made, retries whose backoff is over, and events whose worker died holding them.
Both go through `deliver_event`'s claim, so however many run, one event is sent by one of them at a time.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import redis.asyncio as aioredis
import structlog

from hub.db.engine import create_engine, session_factory
from hub.jobs import JobQueue
from hub.settings import Settings
from hub.shop_events.delivery import DELIVER_TASK, LEASE_MARGIN_S, deliver_due, deliver_event, open_client
from hub.workers import every

log = structlog.get_logger(__name__)

HTTP_CLIENT = "shop_events_http"
"""Where a worker's delivery client is kept (`JobResources.extra`)."""


def register_jobs(queue: JobQueue) -> None:
    """Register the job that delivers one shop event, and the HTTP client its worker keeps open."""
    queue.provide(HTTP_CLIENT, lambda resources: open_client(resources.settings))

    @queue.task(DELIVER_TASK, timeout_s=queue.settings.shop_webhook_timeout_s + LEASE_MARGIN_S)
    async def deliver(tenant_id: str, event_id: str) -> dict[str, Any]:
        resources = queue.resources
        outcome = await deliver_event(
            resources.sessions,
            resources.settings,
            resources.extra[HTTP_CLIENT],
            uuid.UUID(tenant_id),
            uuid.UUID(event_id),
        )
        return {"outcome": outcome}


async def delivery_sweeper(settings: Settings, redis: aioredis.Redis, stop: asyncio.Event) -> None:
    """Deliver the shop events that are due every `shop_webhook_sweep_s` until `stop` is set (a
    `hub.workers.Consumer`)."""
    engine = create_engine(settings.resolved_database_url)
    sessions = session_factory(engine)
    try:
        async with open_client(settings) as client:

            async def sweep() -> None:
                outcomes = await deliver_due(sessions, settings, client)
                if outcomes:
                    log.info("shop_events_swept", **outcomes)

            await every(settings.shop_webhook_sweep_s, stop, sweep, "shop_events_sweep")
    finally:
        await engine.dispose()
