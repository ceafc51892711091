"""Record when each API key was last used: at most once a minute per key, written in the background.

Writing `last_used_at` on every request made every signed-in request a write: on SQLite each one queued behind
whatever held the write lock, on Postgres each one was a row lock and a WAL record. The request path now only
notes the key in memory; a background task writes what it noted in one short transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime

import structlog
from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db import models as m

log = structlog.get_logger(__name__)

WRITE_EVERY_S = 60.0
"""A key's `last_used_at` is written at most this often by one process."""


class KeyUsage:
    """`seen()` on the request path (no I/O); `run()` in the background writes what was seen."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, every_s: float = WRITE_EVERY_S) -> None:
        self._sessions = sessions
        self._every_s = every_s
        self._noted: dict[str, float] = {}
        self._pending: dict[str, datetime] = {}
        self._wake = asyncio.Event()

    def seen(self, prefix: str) -> None:
        """Note a use of the key; queues a write when this process has not written one for it in `every_s`."""
        now = time.monotonic()
        if now - self._noted.get(prefix, -self._every_s) < self._every_s:
            return
        self._noted[prefix] = now
        self._pending[prefix] = datetime.now(UTC)
        self._wake.set()

    async def flush(self) -> int:
        """Write every noted use in one transaction; return how many keys were written."""
        if not self._pending:
            return 0
        pending, self._pending = self._pending, {}
        keys = m.ApiKey.__table__.c
        statement = (  # a Core statement: one executemany, not an ORM bulk update by primary key
            update(m.ApiKey.__table__)
            .where(keys.prefix == bindparam("key_prefix"))
            .where(keys.last_used_at.is_(None) | (keys.last_used_at < bindparam("used_at")))
            .values(last_used_at=bindparam("used_at"))
        )
        rows = [{"key_prefix": prefix, "used_at": at} for prefix, at in pending.items()]
        try:
            async with self._sessions() as session:
                await session.execute(statement, rows)
                await session.commit()
        except BaseException:
            for prefix, at in pending.items():  # keep them for the next try; newer uses win
                self._pending.setdefault(prefix, at)
            raise
        return len(rows)

    async def run(self) -> None:
        """Write noted uses as they come (each key at most once per `every_s`) until cancelled; flush on the way out."""
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                try:
                    await self.flush()
                except Exception as exc:  # the database is down or locked: try again on the next use
                    log.warning("key_usage_write_failed", error=str(exc), keys=len(self._pending))
                    await asyncio.sleep(1.0)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.flush())
