"""Host background worker processes: registration, heartbeats, graceful shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import Any, cast

import redis.asyncio as aioredis
import structlog

from hub.aio import wait_event
from hub.constants import WORKER_HEARTBEAT
from hub.metrics import serve_metrics
from hub.redis_conn import create_redis
from hub.settings import Settings
from hub.worker_kinds import WorkerKind

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 5
HEARTBEAT_TTL = 3 * HEARTBEAT_SECONDS


Consumer = Callable[[Settings, aioredis.Redis, asyncio.Event], Coroutine[Any, Any, None]]
"""A queue consumer or scheduled job: runs until the stop event is set."""


async def every(interval_s: float, stop: asyncio.Event, check: Callable[[], Awaitable[object]], name: str) -> None:
    """Run `check` now and then every `interval_s` until `stop` is set; a failed check is logged and retried next
    time (a scheduled consumer must outlive a Redis or database outage)."""
    while not stop.is_set():
        try:
            await check()
        except Exception:
            log.exception(f"{name}_check_failed")
        await wait_event(stop, interval_s)


async def live_workers(redis: aioredis.Redis, kind: WorkerKind | None = None) -> list[dict[str, Any]]:
    """Return the workers whose heartbeat has not lapsed."""
    pattern = f"{WORKER_HEARTBEAT}:{kind or '*'}:*"
    found: list[dict[str, Any]] = []
    # The client decodes replies (`create_redis`), so keys and values are str; redis-py types them loosely.
    keys = cast(AsyncIterator[str], redis.scan_iter(match=pattern))  # pyright: ignore[reportUnknownMemberType]  # redis-py leaves **kwargs unannotated
    async for key in keys:
        raw = cast(str | None, await redis.get(key))
        if raw:
            found.append(json.loads(raw))
    return found


async def worker_health(redis: aioredis.Redis, kind: WorkerKind, host: str | None = None) -> tuple[bool, str]:
    """Say whether a worker of `kind` on `host` (default: this machine) has a live heartbeat, and why, in one line.

    A container healthcheck runs this inside the worker's container, where the hostname is the container id: a
    heartbeat from another replica must not make this one look healthy.
    """
    host = host or socket.gethostname()
    mine = [w for w in await live_workers(redis, kind) if w.get("host") == host]
    if not mine:
        return False, f"no live {kind} worker on {host}: no heartbeat in the last {HEARTBEAT_TTL} s"
    described = ", ".join(f"{w['id']} (pid {w['pid']})" for w in mine)
    return True, f"{kind} worker alive on {host}: {described}"


async def run_worker(
    kind: WorkerKind,
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    consumers: list[Consumer],
    metrics_port: int | None = None,
) -> None:
    """Announce this worker in Redis, run its kind's consumers, and stop cleanly on SIGTERM, SIGINT or SIGHUP.

    Where something else owns the signals (`hub serve`'s worker process runs one of each kind; tests run
    them in-process) pass `handle_signals=False` and set `stop` on shutdown. A `hub worker` process serves
    its own metrics on `metrics_port` while it runs.
    """
    with serve_metrics(metrics_port) if metrics_port is not None else nullcontext():
        await _run_worker(kind, settings, stop=stop, handle_signals=handle_signals, consumers=consumers)


async def _run_worker(
    kind: WorkerKind,
    settings: Settings,
    *,
    stop: asyncio.Event | None,
    handle_signals: bool,
    consumers: list[Consumer],
) -> None:
    stop = stop or asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, stop.set)
    worker_id = uuid.uuid4().hex[:12]
    key = f"{WORKER_HEARTBEAT}:{kind}:{worker_id}"
    info = json.dumps(
        {
            "id": worker_id,
            "kind": kind,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": datetime.now(UTC).isoformat(),
        }
    )
    redis = create_redis(settings.redis_url or "")
    tasks = [asyncio.create_task(c(settings, redis, stop)) for c in consumers]
    log.info("worker_started", kind=kind, worker_id=worker_id, consumers=len(tasks))
    try:
        while not stop.is_set():
            await redis.set(key, info, ex=HEARTBEAT_TTL)
            await wait_event(stop, HEARTBEAT_SECONDS)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await redis.delete(key)
        await redis.aclose()
        log.info("worker_stopped", kind=kind, worker_id=worker_id)
