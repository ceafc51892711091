"""Announce changes to tenants and channel accounts to every process, so the copies they keep in memory reload.

Any ORM commit that adds, changes or deletes a `Tenant` or a `ChannelAccount` (an ORM `update()`/`delete()` on
either included) is announced on the `TENANCY_CHANGES` pub/sub channel once it has committed, by each process
that has opened `announcing(redis)`: the app and the workers, where the admin routes, the console and the seed
behind `hub serve --demo` write. Whoever writes the rows needs no call of its own. A `Follower` reloads its copy
on every announcement and at least every `poll_s` seconds (`hub.broadcast`), so a change written where nothing announces (a CLI
command, raw SQL) or announced while Redis was unreachable still shows within that bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from itertools import chain

import redis.asyncio as aioredis
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from hub import broadcast
from hub.broadcast import Follower
from hub.constants import TENANCY_CHANGES
from hub.db import models as m

TRACKED: tuple[type[m.Base], ...] = (m.Tenant, m.ChannelAccount)
"""The rows whose changes are announced."""
_CHANGED = "hub.tenancy.changed"
"""`Session.info` key: this transaction wrote a tracked row."""
_announcers: dict[aioredis.Redis, int] = {}
"""Redis clients that announce this process's commits, with how many `announcing` blocks hold each."""
_sending: set[asyncio.Task[bool]] = set()


async def announce(redis: aioredis.Redis) -> bool:
    """Tell every process to reload tenants and channel accounts now; False when Redis is unreachable."""
    return await broadcast.announce(redis, TENANCY_CHANGES)


def follow(redis: aioredis.Redis, reload: Callable[[], Awaitable[None]], *, poll_s: float, name: str) -> Follower:
    """A `Follower` that calls `reload` on every tenancy announcement and every `poll_s` seconds (not started)."""
    return Follower(redis, reload, channel=TENANCY_CHANGES, poll_s=poll_s, name=name)


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
