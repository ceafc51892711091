"""Worker processes announce themselves in Redis while alive and disappear when stopped."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hub.redis_conn import EmbeddedRedis, create_redis
from hub.settings import Settings
from hub.workers import WorkerKind, live_workers, run_worker
from service.workers import consumers


async def test_worker_is_listed_while_running_and_gone_after_stop(
    embedded_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, redis_url=embedded_redis.url)
    redis = create_redis(embedded_redis.url)
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(WorkerKind.IMAGING, settings, stop=stop, consumers=consumers(WorkerKind.IMAGING))
    )

    async with asyncio.timeout(10):
        while len(await live_workers(redis, WorkerKind.IMAGING)) != 1:  # noqa: ASYNC110 — polling Redis, not a local event
            await asyncio.sleep(0.05)
    assert await live_workers(redis, WorkerKind.CHANNELS) == []
    stop.set()
    async with asyncio.timeout(10):
        await task
    assert await live_workers(redis) == []
    await redis.aclose()
