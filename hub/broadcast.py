"""Tell every process of this deployment to reload a copy it keeps in memory, and follow such announcements.

A deployment is one Redis database: Redis delivers a pub/sub message to every subscriber of its channel whatever
database they selected, so each channel name carries the database index, and two deployments (or two test
processes) sharing a server never reload on each other's changes. Announcements are hints: a `Follower` also
reloads every `poll_s` seconds, so a change written where nothing announces it, or announced while Redis was
unreachable, still shows within that bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
import structlog
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from hub.aio import wait_event

log = structlog.get_logger(__name__)

_READ_S = 1.0
"""Longest single wait for an announcement: how often a follower checks that it should stop."""


def deployment_channel(redis: aioredis.Redis, name: str) -> str:
    """The pub/sub channel `name` of the deployment behind `redis` (its database index appended)."""
    database = int(redis.connection_pool.connection_kwargs.get("db") or 0)
    return f"{name}:{database}"


async def announce(redis: aioredis.Redis, name: str) -> bool:
    """Tell every follower of `name` in this deployment to reload now; False when Redis is unreachable."""
    try:
        await redis.publish(deployment_channel(redis, name), "reload")  # pyright: ignore[reportUnknownMemberType]  # redis-py leaves **kwargs unannotated
    except (RedisError, OSError) as exc:
        log.warning("announce_failed", channel=name, error=repr(exc))
        return False
    return True


class Follower:
    """Call `reload` at start, on every announcement on `channel` and every `poll_s` seconds.

    The subscription is taken before the first reload, so a change announced meanwhile is not missed. `reload`
    should raise on failure; that is logged, the last copy is kept, and the next announcement or poll tries again.
    """

    def __init__(
        self, redis: aioredis.Redis, reload: Callable[[], Awaitable[None]], *, channel: str, poll_s: float, name: str
    ) -> None:
        self._redis = redis
        self._reload = reload
        self._channel = channel
        self._poll_s = poll_s
        self._name = name
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Follow announcements in the background (idempotent; call inside the event loop)."""
        if self._task is None:
            self._task = asyncio.create_task(self._follow(), name=self._name)

    async def aclose(self) -> None:
        """Stop following and close the subscription's connection."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _reload_or_keep(self) -> None:
        try:
            await self._reload()
        except Exception:
            log.warning("reload_failed", follower=self._name, exc_info=True)

    async def _subscribe(self) -> PubSub | None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # pyright: ignore[reportUnknownMemberType]  # redis-py leaves **kwargs unannotated
        try:
            await pubsub.subscribe(deployment_channel(self._redis, self._channel))
        except (RedisError, OSError) as exc:
            log.warning("subscribe_failed", follower=self._name, error=repr(exc))
            with contextlib.suppress(Exception):
                await pubsub.aclose()
            return None
        return pubsub

    async def _follow(self) -> None:
        pubsub = await self._subscribe()
        try:
            await self._reload_or_keep()  # after subscribing: a change announced meanwhile is not missed
            next_poll = time.monotonic() + self._poll_s
            while not self._stopping.is_set():
                # redis-py (8.1) can swallow a cancellation that lands while it connects or subscribes, so
                # `aclose` also sets a stop flag, which the loop checks at least every `_READ_S`.
                wait = min(_READ_S, max(0.0, next_poll - time.monotonic()))
                notified = False
                if pubsub is None:
                    await wait_event(self._stopping, wait)
                    if time.monotonic() >= next_poll:  # try Redis again once per poll; the reload below follows
                        pubsub = await self._subscribe()
                else:
                    try:
                        notified = await pubsub.get_message(timeout=wait) is not None
                    except Exception as exc:
                        log.warning("subscription_lost", follower=self._name, error=repr(exc))
                        with contextlib.suppress(Exception):
                            await pubsub.aclose()
                        pubsub = None
                if notified or time.monotonic() >= next_poll:
                    await self._reload_or_keep()
                    next_poll = time.monotonic() + self._poll_s
        finally:
            if pubsub is not None:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
