"""Background jobs: bulk SEO copy runs in a worker with progress; failures retry then dead-letter; a killed
worker's job is reclaimed and finished by another."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.db import models as m
from hub.db.engine import session_factory
from hub.jobs import JobQueue, events_channel
from hub.redis_conn import create_redis
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from tests.agent_harness import operator_chat, running
from tests.job_tasks import FINISHED, RUNS, register_test_tasks

ROOT = Path(__file__).resolve().parents[2]


async def events(client: aioredis.Redis, channel: str) -> AsyncIterator[dict[str, Any]]:
    pubsub = client.pubsub()
    await pubsub.subscribe(channel)
    try:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is not None:
                yield json.loads(message["data"])
    finally:
        await pubsub.aclose()


async def test_bulk_seo_copy_runs_as_a_background_job_with_progress(
    app_settings: Settings, engine: AsyncEngine, demo: DemoCredentials
) -> None:
    async with session_factory(engine)() as session:
        skus = set(
            (
                await session.execute(
                    select(m.Product.sku).where(m.Product.category == "T-shirts", m.Product.active.is_(True))
                )
            ).scalars()
        )
    client = create_redis(app_settings.redis_url or "")
    stream = events(client, events_channel(demo.tenant_id))
    first = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.2)  # subscribed before the job starts
    seen: list[dict[str, Any]] = []
    async with running(app_settings, in_process_workers=True) as app:
        chat = await operator_chat(app, engine, demo)
        out = await chat.say("/seo-bulk t-shirts")
        assert out.tools == ["seo_bulk"] and f"{len(skus)} product(s) in T-shirts" in out.reply
        async with asyncio.timeout(60):
            seen.append(await first)
        while seen[-1]["kind"] != "seo_bulk.finished":
            async with asyncio.timeout(60):
                seen.append(await anext(stream))
    await stream.aclose()
    await client.aclose()
    progress = [e for e in seen if e["kind"] == "seo_bulk.progress"]
    assert [e["done"] for e in progress] == list(range(1, len(skus) + 1)) and {e["sku"] for e in progress} == skus
    assert seen[-1]["drafted"] == len(skus) and seen[-1]["failed"] == {}
    async with session_factory(engine)() as session:
        drafts = (await session.execute(select(m.ContentDraft))).scalars().all()
        audit = (
            await session.execute(select(m.AuditEvent).where(m.AuditEvent.action == "seo.bulk_finished"))
        ).scalar_one()
    assert {d.sku for d in drafts} == skus and {d.status for d in drafts} == {m.ContentDraftStatus.DRAFT}
    assert audit.actor == f"operator:{demo.operator_email}" and audit.data["drafted"] == len(skus)


@pytest.fixture
def job_settings(app_settings: Settings) -> Settings:
    return app_settings.model_copy(update={"jobs_idle_timeout_s": 1.0, "jobs_max_tries": 2})


@pytest.fixture
async def redis_client(job_settings: Settings) -> AsyncIterator[aioredis.Redis]:
    client = create_redis(job_settings.redis_url or "")
    await client.delete(RUNS, FINISHED)
    yield client
    await client.aclose()


@pytest.fixture
async def producer(job_settings: Settings) -> AsyncIterator[JobQueue]:
    queue = JobQueue(job_settings)
    register_test_tasks(queue)
    async with queue:
        yield queue


async def worker_in_process(settings: Settings) -> tuple[asyncio.Event, asyncio.Task[None]]:
    queue = JobQueue(settings)
    register_test_tasks(queue)
    stop = asyncio.Event()
    return stop, asyncio.create_task(queue.run(stop))


async def eventually(check: Any, within_s: float = 20.0) -> Any:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if value := await check():
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"not true within {within_s}s")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_job_that_keeps_failing_is_retried_then_dead_lettered(
    job_settings: Settings, engine: AsyncEngine, producer: JobQueue, redis_client: aioredis.Redis
) -> None:
    stop, worker = await worker_in_process(job_settings)
    key = f"fails-{time.time_ns()}"
    task_id = await producer.enqueue("always_fails", key)
    dead = await eventually(lambda: _dead_entry(producer, task_id))
    stop.set()
    await worker
    assert dead["task"] == "always_fails" and dead["tries"] == 2
    assert dead["reason"] == f"ValueError: no luck with {key}"
    assert await redis_client.hget(RUNS, key) == "2"


async def _dead_entry(queue: JobQueue, task_id: str) -> dict[str, Any] | None:
    return next((d for d in await queue.dead_letters() if d["task_id"] == task_id), None)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_job_whose_worker_is_killed_is_reclaimed_and_finished_once_more(
    job_settings: Settings, engine: AsyncEngine, producer: JobQueue, redis_client: aioredis.Redis
) -> None:
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.job_tasks",
        job_settings.model_dump_json(),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        key = f"slow-{time.time_ns()}"
        await producer.enqueue("count_and_sleep", key, 20, 0.2, priority="high")
        await eventually(lambda: redis_client.hget(RUNS, key))
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()
    assert await redis_client.lrange(FINISHED, 0, -1) == [], "the killed worker did not finish the job"
    stop, worker = await worker_in_process(job_settings)
    try:
        await eventually(lambda: redis_client.lrange(FINISHED, 0, -1), within_s=30)
    finally:
        stop.set()
        await worker
    assert await redis_client.lrange(FINISHED, 0, -1) == [key]
    assert await redis_client.hget(RUNS, key) == "2", "started once on the killed worker, once on the rescuer"
