"""Hold a Redis lock as a short lease renewed while its holder lives: one conversation's turns one at a time.

A plain lock with a long timeout outlives a killed holder for that whole timeout; a lease of a few seconds,
renewed every third of it by a task beside the work, lapses soon after the holder dies (SIGKILL, OOM) and
never while it lives, however long the work takes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import redis.asyncio as aioredis
from redis.exceptions import LockError


class Busy(LockError):
    """The lease stayed held by someone else for longer than the caller would wait."""


@contextlib.asynccontextmanager
async def held(redis: aioredis.Redis, key: str, *, lease_s: float, wait_s: float) -> AsyncGenerator[None]:
    """Hold `key` while the block runs: wait at most `wait_s` for it (else `Busy`), renew it every `lease_s` / 3."""
    lock = redis.lock(key, timeout=lease_s, blocking_timeout=wait_s)
    if not await lock.acquire():
        raise Busy(f"{key} stayed held for {wait_s:g} s")

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease_s / 3)
            await lock.reacquire()

    renewing = asyncio.create_task(renew(), name=f"lease:{key}")
    try:
        yield
    finally:
        renewing.cancel()
        await asyncio.gather(renewing, return_exceptions=True)
        with contextlib.suppress(LockError):
            await lock.release()
