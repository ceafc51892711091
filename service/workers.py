"""What each kind of worker runs: the queue's tasks and the scheduled consumers, wired with real imports.

`hub worker channels` runs the general queue (bulk SEO copy, WhatsApp events and sends, Shopify webhooks, product
vectors, shop events to the shops' webhooks), the daily usage rollup, the retention purge and the sweeper that
delivers due shop events; `hub worker imaging` runs the imaging queue. Each queue's worker gets the process's
resources from `open_resources` (so the conversation graph is the one every surface of the process uses, and an
imaging worker never builds a model gateway).
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from chat_ui.whatsapp import worker as whatsapp
from graphs.checkpoint import checkpoint_forgetter
from hub.audit.schedule import retention_purge_consumer
from hub.catalog import vectors
from hub.jobs import GENERAL, IMAGING, JobQueue, QueueSpec, Registrar
from hub.settings import Settings
from hub.shop_events import schedule as shop_events
from hub.shopify import worker as shopify
from hub.usage.schedule import daily_rollup_consumer
from hub.workers import Consumer, WorkerKind
from imaging_service import worker as imaging
from service.resources import open_resources
from tools import seo

TASKS: dict[str, tuple[Registrar, ...]] = {
    GENERAL.name: (
        seo.register_jobs,
        whatsapp.register_jobs,
        shopify.register_jobs,
        vectors.register_jobs,
        shop_events.register_jobs,
    ),
    IMAGING.name: (imaging.register_jobs,),
}
"""Which packages' tasks each queue's workers run."""


def worker_queue(settings: Settings, spec: QueueSpec = GENERAL) -> JobQueue:
    """A worker of `spec` with its tasks registered (it enqueues follow-ups on itself; the process's producer
    reaches the other queues)."""
    return JobQueue(settings, spec, tasks=TASKS[spec.name], linked=())


async def host(queue: JobQueue, stop: asyncio.Event) -> None:
    """Run the worker `queue` on this process's resources (`open_resources`) until `stop` is set."""
    async with open_resources(queue.settings) as resources:
        await queue.run(stop, resources)


async def _general(settings: Settings, redis: aioredis.Redis, stop: asyncio.Event) -> None:
    await host(worker_queue(settings, GENERAL), stop)


async def _imaging(settings: Settings, redis: aioredis.Redis, stop: asyncio.Event) -> None:
    await host(worker_queue(settings, IMAGING), stop)


async def retention_purge(settings: Settings, redis: aioredis.Redis, stop: asyncio.Event) -> None:
    forget = checkpoint_forgetter(settings.resolved_database_url, settings.data_dir)
    await retention_purge_consumer(settings, redis, stop, forget=forget)


CONSUMERS: dict[WorkerKind, tuple[Consumer, ...]] = {
    WorkerKind.CHANNELS: (daily_rollup_consumer, retention_purge, shop_events.delivery_sweeper, _general),
    WorkerKind.IMAGING: (_imaging,),
}
"""What each kind of worker runs."""


def consumers(kind: WorkerKind) -> list[Consumer]:
    return list(CONSUMERS[kind])
