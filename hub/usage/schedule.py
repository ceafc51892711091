"""Roll usage up from the channel workers: each closed day once across all of them, today every few minutes."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import redis.asyncio as aioredis
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.constants import USAGE_ROLLUP
from hub.db.engine import create_engine, session_factory
from hub.settings import Settings
from hub.usage.rollup import RollupResult, rollup_day
from hub.workers import every

log = structlog.get_logger(__name__)

CHECK_EVERY = timedelta(minutes=1)
"""How often a worker looks for a rollup that is due."""
GRACE = timedelta(minutes=10)
"""A day closes this long after its UTC midnight, so ledger rows still being flushed are counted."""
OPEN_DAY_EVERY = timedelta(minutes=15)
"""How often the open day is rolled up, so reports can show today so far."""
CATCH_UP_DAYS = 3
"""Closed days checked each time, so days missed while no worker ran are rolled up when one does."""
RUNNING_TTL = timedelta(minutes=15)
"""Longest a worker that died mid-rollup holds a day; then another worker retries it."""
DONE_TTL = timedelta(days=CATCH_UP_DAYS + 2)
"""A closed day's 'done' mark outlives the catch-up window, so the day is rolled up only once."""


@dataclass(frozen=True, slots=True)
class DueRollup:
    day: date
    key: str
    """Redis lock: claimed with SET NX EX by the one worker that runs it."""
    final: bool
    """A closed day, rolled up once; otherwise the open day, rolled up once per OPEN_DAY_EVERY."""


def due_rollups(now: datetime) -> list[DueRollup]:
    """Return the rollups due at `now`: the last CATCH_UP_DAYS closed days, oldest first, then the open day."""
    open_day = (now.astimezone(UTC) - GRACE).date()
    slot = int(now.timestamp() // OPEN_DAY_EVERY.total_seconds())
    closed = [open_day - timedelta(days=n) for n in range(CATCH_UP_DAYS, 0, -1)]
    return [
        *(DueRollup(day=d, key=f"{USAGE_ROLLUP}:final:{d}", final=True) for d in closed),
        DueRollup(day=open_day, key=f"{USAGE_ROLLUP}:open:{open_day}:{slot}", final=False),
    ]


async def run_due_rollups(engine: AsyncEngine, redis: aioredis.Redis, now: datetime) -> list[RollupResult]:
    """Run the rollups due at `now` that no other worker has claimed; return the ones this worker ran."""
    ran: list[RollupResult] = []
    for due in due_rollups(now):
        token = f"running:{uuid.uuid4().hex}"
        ttl = RUNNING_TTL if due.final else OPEN_DAY_EVERY
        if not await redis.set(due.key, token, nx=True, ex=ttl):
            continue
        try:
            async with session_factory(engine)() as session:
                result = await rollup_day(session, due.day)
                await session.commit()
        except Exception:
            # A database outage must not end the worker: free the claim so the next check retries.
            log.exception("usage_rollup_failed", day=str(due.day), final=due.final)
            if await redis.get(due.key) == token:
                await redis.delete(due.key)
            continue
        if due.final:
            await redis.set(due.key, "done", ex=DONE_TTL)
        log.info(
            "usage_rollup_done",
            day=str(due.day),
            final=due.final,
            rows=result.groups,
            attempts=result.attempts,
            cost=str(result.cost),
            replaced=result.replaced,
        )
        ran.append(result)
    return ran


async def daily_rollup_consumer(settings: Settings, redis: aioredis.Redis, stop: asyncio.Event) -> None:
    """Roll up closed days and the open day as they fall due, until `stop` is set (a `hub.workers.Consumer`)."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await every(
            CHECK_EVERY.total_seconds(), stop, lambda: run_due_rollups(engine, redis, datetime.now(UTC)), "usage_rollup"
        )
    finally:
        await engine.dispose()
