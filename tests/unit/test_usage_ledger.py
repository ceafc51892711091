"""The usage ledger: buffered off the hot path, never losing a row, written on shutdown."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.gateway.guards import spend_keys
from hub.gateway.ledger import UsageLedger
from hub.redis_conn import EmbeddedRedis, create_redis
from hub.tenancy import admin


def row(tenant_id: uuid.UUID, cost: str = "0.25") -> dict:
    return {
        "ts": datetime.now(UTC),
        "tenant_id": tenant_id,
        "feature": "customer_reply",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "prompt_id": "customer_reply",
        "prompt_version": "1.0.0",
        "input_tokens": 10,
        "output_tokens": 5,
        "tokens_estimated": False,
        "latency_ms": 12,
        "cost": Decimal(cost),
        "request_id": "r",
        "trace_id": "t",
        "attempt": 1,
        "outcome": m.UsageOutcome.OK,
        "price_version": "2026-11-01",
        "error": None,
    }


@dataclass
class Store:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    tenant_id: uuid.UUID

    async def take_usage_offline(self, offline: bool) -> None:
        """Make the usage table disappear (or come back), as in a failed-over or locked database."""
        old, new = ("usage", "usage_offline") if offline else ("usage_offline", "usage")
        async with self.engine.begin() as conn:
            await conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


@pytest.fixture
async def store(tmp_path: Path, embedded_redis: EmbeddedRedis) -> AsyncIterator[Store]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    await upgrade(engine)
    sessions = session_factory(engine)
    async with sessions() as session:
        tenant = await admin.create_tenant(session, name="Ledger Shop")
        await session.commit()
    redis = create_redis(embedded_redis.url)
    yield Store(engine, sessions, redis, tenant.id)
    await redis.aclose()
    await engine.dispose()


async def test_rows_survive_a_database_outage_and_are_written_when_it_returns(store: Store) -> None:
    ledger = UsageLedger(store.sessions, store.redis, flush_interval_s=60)
    await store.take_usage_offline(True)
    ledger.record(row(store.tenant_id))
    ledger.record(row(store.tenant_id))
    assert await ledger.flush() == 0 and ledger.pending == 2

    await store.take_usage_offline(False)
    assert await ledger.flush() == 2 and ledger.pending == 0
    day_key, month_key = spend_keys(store.tenant_id, datetime.now(UTC))
    assert Decimal(await store.redis.get(day_key)) == Decimal(await store.redis.get(month_key)) == Decimal("0.5")
    await ledger.aclose()


async def test_shutdown_writes_everything_still_buffered(store: Store) -> None:
    ledger = UsageLedger(store.sessions, store.redis, flush_interval_s=3600, batch_size=10_000)
    ledger.start()
    for _ in range(500):
        ledger.record(row(store.tenant_id, "0.001"))
    await ledger.aclose()
    async with store.sessions() as session:
        count, total = (await session.execute(select(func.count(), func.sum(m.UsageRecord.cost)))).one()
    assert count == 500 and Decimal(str(total)).quantize(Decimal("0.001")) == Decimal("0.500")


async def test_rows_outliving_a_dead_database_at_shutdown_are_written_by_the_next_start(
    store: Store, tmp_path: Path
) -> None:
    await store.take_usage_offline(True)
    first = UsageLedger(store.sessions, store.redis, flush_interval_s=0.01, spill_dir=tmp_path / "spill")
    first.record(row(store.tenant_id, "0.125"))
    await first.aclose()
    assert len(list((tmp_path / "spill").glob("*.jsonl"))) == 1

    await store.take_usage_offline(False)
    second = UsageLedger(store.sessions, store.redis, flush_interval_s=0.01, spill_dir=tmp_path / "spill")
    second.start()
    await second.aclose()
    async with store.sessions() as session:
        [cost] = (await session.execute(select(m.UsageRecord.cost))).scalars()
    assert cost == Decimal("0.125") and list((tmp_path / "spill").glob("*.jsonl")) == []
