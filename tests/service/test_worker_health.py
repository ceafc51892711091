"""`hub health worker KIND`, a worker container's healthcheck, passes only while a worker of that kind beats here."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from hub.redis_conn import create_redis
from hub.settings import Settings
from hub.workers import WorkerKind, live_workers, run_worker
from tests.processes import ahub, free_port

pytestmark = pytest.mark.service


def health_env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATA_DIR": str(tmp_path / "cli"),
        "HUB_REDIS_URL": redis_url,
    }


@asynccontextmanager
async def running_worker(kind: WorkerKind, redis_url: str, tmp_path: Path) -> AsyncIterator[None]:
    """A real worker of `kind` (no consumers: only its heartbeat matters here), until the block ends."""
    settings = Settings(data_dir=tmp_path / "worker", redis_url=redis_url)
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(kind, settings, stop=stop, handle_signals=False, consumers=[]))
    redis = create_redis(redis_url)
    try:
        async with asyncio.timeout(10):
            while not await live_workers(redis, kind):  # the heartbeat is observable only in Redis
                assert not task.done(), task
                await asyncio.sleep(0.05)
        yield
    finally:
        stop.set()
        async with asyncio.timeout(10):
            await task
        await redis.aclose()


async def test_healthcheck_passes_while_a_channels_worker_runs_on_this_host(redis_url: str, tmp_path: Path) -> None:
    async with running_worker(WorkerKind.CHANNELS, redis_url, tmp_path):
        result = await ahub("health", "worker", "channels", env=health_env(redis_url, tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(f"channels worker alive on {socket.gethostname()}: ")


async def test_healthcheck_fails_with_one_readable_line_when_no_worker_runs(redis_url: str, tmp_path: Path) -> None:
    result = await ahub("health", "worker", "channels", env=health_env(redis_url, tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"error: no live channels worker on {socket.gethostname()}: no heartbeat in the last 15 s"
    )


async def test_a_worker_of_another_kind_does_not_make_the_channels_check_pass(redis_url: str, tmp_path: Path) -> None:
    async with running_worker(WorkerKind.IMAGING, redis_url, tmp_path):
        channels = await ahub("health", "worker", "channels", env=health_env(redis_url, tmp_path))
        imaging = await ahub("health", "worker", "imaging", env=health_env(redis_url, tmp_path))
    assert channels.returncode == 1, channels.stdout
    assert imaging.returncode == 0, imaging.stderr


async def test_healthcheck_fails_when_a_stopped_worker_no_longer_beats(redis_url: str, tmp_path: Path) -> None:
    async with running_worker(WorkerKind.CHANNELS, redis_url, tmp_path):
        pass
    result = await ahub("health", "worker", "channels", env=health_env(redis_url, tmp_path))
    assert result.returncode == 1, result.stdout


async def test_healthcheck_fails_when_redis_is_unreachable(tmp_path: Path) -> None:
    nobody_listens = f"redis://127.0.0.1:{free_port()}/0"
    result = await ahub("health", "worker", "channels", env=health_env(nobody_listens, tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot read channels worker heartbeats from Redis: ")
