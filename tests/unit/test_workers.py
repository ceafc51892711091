"""Worker processes announce themselves in Redis while alive and disappear when stopped."""

from __future__ import annotations

import asyncio

from hub.redis_conn import EmbeddedRedis, create_redis
from hub.settings import Settings
from hub.workers import WorkerKind, live_workers, run_worker


async def wait_for(predicate, timeout: float = 10.0) -> None:  # noqa: ANN001
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


async def test_worker_is_listed_while_running_and_gone_after_stop(embedded_redis: EmbeddedRedis, tmp_path) -> None:  # noqa: ANN001
    settings = Settings(data_dir=tmp_path, redis_url=embedded_redis.url)
    redis = create_redis(embedded_redis.url)
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(WorkerKind.IMAGING, settings, stop=stop))

    async def listed() -> bool:
        return len(await live_workers(redis, WorkerKind.IMAGING)) == 1

    await wait_for(listed)
    assert await live_workers(redis, WorkerKind.CHANNELS) == []
    stop.set()
    await asyncio.wait_for(task, 10)
    assert await live_workers(redis) == []
    await redis.aclose()
