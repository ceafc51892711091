"""Announce changes to tenants and channel accounts to every process, so the copies they keep in memory reload.

Any ORM commit that adds, changes or deletes a `Tenant` or a `ChannelAccount` (an ORM `update()`/`delete()` on
either included) is announced on the `TENANCY_CHANGES` pub/sub channel once it has committed, by each process
that has opened `announcing(redis)`: the app and the workers, where the admin routes, the console and the seed
behind `hub serve --demo` write. Whoever writes the rows needs no call of its own. A `Follower` reloads its copy
on every announcement and at least every `poll_s` seconds, so a change written where nothing announces (a CLI
command, raw SQL) or announced while Redis was unreachable still shows within that bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from itertools import chain

import redis.asyncio as aioredis
import structlog
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from hub.aio import wait_event
from hub.constants import TENANCY_CHANGES
from hub.db import models as m

log = structlog.get_logger(__name__)

TRACKED: tuple[type[m.Base], ...] = (m.Tenant, m.ChannelAccount)
"""The rows whose changes are announced."""
_CHANGED = "hub.tenancy.changed"
"""`Session.info` key: this transaction wrote a tracked row."""
_READ_S = 1.0
"""Longest single wait for an announcement: how often a follower checks that it should stop."""
_announcers: dict[aioredis.Redis, int] = {}
"""Redis clients that announce this process's commits, with how many `announcing` blocks hold each."""
_sending: set[asyncio.Task[bool]] = set()


def changes_channel(redis: aioredis.Redis) -> str:
    """The pub/sub channel of this Redis database's deployment: Redis delivers a message to every subscriber of its
    channel whatever database they selected, so two deployments (or test runs) sharing a server must not hear each
    other's changes."""
    database = int(redis.connection_pool.connection_kwargs.get("db") or 0)
    return f"{TENANCY_CHANGES}:{database}"


async def announce(redis: aioredis.Redis) -> bool:
    """Tell every process to reload tenants and channel accounts now; False when Redis is unreachable."""
    try:
        await redis.publish(changes_channel(redis), "reload")  # pyright: ignore[reportUnknownMemberType]  # redis-py leaves **kwargs unannotated
    except (RedisError, OSError) as exc:
        log.warning("tenancy_announce_failed", error=repr(exc))
        return False
    return True


@asynccontextmanager
async def announcing(redis: aioredis.Redis) -> AsyncGenerator[None]:
    """Announce, through `redis`, every commit of this process that changes a tenant or a channel account."""
    _announcers[redis] = _announcers.get(redis, 0) + 1
    try:
        yield
    finally:
        _announcers[redis] -= 1
        if not _announcers[redis]:
            del _announcers[redis]
        if _sending:
            await asyncio.gather(*_sending, return_exceptions=True)


def _writes_tracked(session: Session) -> bool:
    for obj in chain(session.new, session.deleted):
        if isinstance(obj, TRACKED):
            return True
    return any(isinstance(obj, TRACKED) and session.is_modified(obj) for obj in session.dirty)


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, _flush: UOWTransaction) -> None:
    # `new`, `dirty` and `deleted` still hold what this flush wrote.
    if _announcers and not session.info.get(_CHANGED) and _writes_tracked(session):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: ORMExecuteState) -> None:
    if _announcers and (state.is_update or state.is_delete) and state.bind_mapper is not None:
        if state.bind_mapper.class_ in TRACKED:
            state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _announce_commit(session: Session) -> None:
    if not session.info.pop(_CHANGED, False):
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # a synchronous session outside the event loop: followers poll
        return
    for redis in list(_announcers):
        task = loop.create_task(announce(redis), name="tenancy-announce")
        _sending.add(task)
        task.add_done_callback(_sending.discard)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_CHANGED, None)


class Follower:
    """Call `reload` at start, on every announcement and every `poll_s` seconds; a failed reload keeps the last copy.

    `reload` should raise on failure; it is logged and tried again at the next announcement or poll.
    """

    def __init__(
        self, redis: aioredis.Redis, reload: Callable[[], Awaitable[None]], *, poll_s: float, name: str
    ) -> None:
        self._redis = redis
        self._reload = reload
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
            log.warning("tenancy_reload_failed", follower=self._name, exc_info=True)

    async def _subscribe(self) -> PubSub | None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)  # pyright: ignore[reportUnknownMemberType]  # redis-py leaves **kwargs unannotated
        try:
            await pubsub.subscribe(changes_channel(self._redis))
        except (RedisError, OSError) as exc:
            log.warning("tenancy_subscribe_failed", follower=self._name, error=repr(exc))
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
                        log.warning("tenancy_subscription_lost", follower=self._name, error=repr(exc))
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
