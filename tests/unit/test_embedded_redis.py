"""The embedded Redis that `hub serve` starts when HUB_REDIS_URL is unset."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import psutil
import pytest
import redis

from hub.redis_conn import EmbeddedRedis, create_redis


async def test_embedded_redis_serves_the_async_client_and_pubsub(embedded_redis: EmbeddedRedis) -> None:
    client = create_redis(embedded_redis.url)
    await client.set("hub:test", "value")
    assert await client.get("hub:test") == "value"
    pubsub = client.pubsub()
    await pubsub.subscribe("hub:events")
    await pubsub.get_message(timeout=1)
    await client.publish("hub:events", "hello")
    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
    assert message is not None and message["data"] == "hello"
    await pubsub.aclose()
    await client.aclose()


async def test_a_task_cancelled_mid_command_always_stops(embedded_redis: EmbeddedRedis) -> None:
    """A background loop (the guard's sync, the usage ledger) must stop when shutdown cancels it, wherever
    in a Redis round trip the cancel lands; one swallowed cancel hangs the process's shutdown for good."""
    client = create_redis(embedded_redis.url)
    rng = random.Random(7)

    async def sync_loop() -> None:
        while True:
            await client.incr("hub:test:count")
            await asyncio.sleep(0)

    survivors = 0
    for _ in range(300):
        task = asyncio.create_task(sync_loop())
        await asyncio.sleep(rng.random() * 0.004)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=2)
        if not done:
            survivors += 1
            break
        assert task.cancelled(), task.exception()
    assert survivors == 0, "a cancelled task kept running"
    assert int(await client.get("hub:test:count")) > 300  # the cancels landed mid-traffic
    await client.aclose()


def test_stop_ends_the_server_and_a_restart_keeps_the_data(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    url = server.start()
    pid = redis.Redis.from_url(url).info("server")["process_id"]
    redis.Redis.from_url(url).rpush("hub:queue", "job-1")
    server.stop()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(redis.ConnectionError):
        redis.Redis(unix_socket_path=url.removeprefix("unix://"), socket_connect_timeout=1).ping()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url

    restarted = redis.Redis.from_url(server.start())
    assert restarted.lrange("hub:queue", 0, -1) == [b"job-1"]
    restarted.close()
    server.stop()


def test_a_socket_file_left_by_a_dead_server_is_removed_and_the_server_starts(tmp_path: Path) -> None:
    import socket as sockets

    path = EmbeddedRedis.socket_path(tmp_path)
    path.parent.mkdir(parents=True)
    with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as dead:
        dead.bind(str(path))  # the file stays when the listener is gone, as after a crash
    assert path.exists()
    server = EmbeddedRedis(tmp_path)
    client = redis.Redis.from_url(server.start())
    try:
        assert client.ping()
    finally:
        client.close()
        server.stop()
