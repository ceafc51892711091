"""A gateway wired to a scripted model server, SQLite and an embedded Redis, for tests and the bench."""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.gateway.config import GatewayConfig
from hub.gateway.context import CallContext
from hub.gateway.gateway import Gateway
from hub.gateway.ledger import UsageLedger
from hub.gateway.pricing import PriceList, PriceTable
from hub.prompting.registry import PromptRegistry, default_prompts_dir
from hub.redis_conn import create_redis
from hub.tenancy import admin
from hub.tenancy.config import ModelPrice, TenantConfig

PRICES = PriceTable(
    [
        PriceList(
            id="test-2026",
            effective_from=date(2020, 1, 1),
            models={
                "model-a": ModelPrice(input=Decimal("1.00"), output=Decimal("2.00")),
                "model-b": ModelPrice(input=Decimal("0.50"), output=Decimal("1.00")),
            },
        )
    ]
)
ROUTE = {"intent": "order_status", "confidence": 0.9, "entities": {"order_number": "A-10001"}}


async def until(check: Callable[[], object], timeout_s: float = 10.0) -> None:
    """Wait until `check()` (sync or async) is true: observable state, never a fixed sleep."""
    async with asyncio.timeout(timeout_s):
        while True:
            result = check()
            if await result if inspect.isawaitable(result) else result:
                return
            await asyncio.sleep(0.02)


def route_json(**overrides: Any) -> str:
    return json.dumps({**ROUTE, **overrides})


def fast_config(base_url: str | None, **overrides: Any) -> GatewayConfig:
    config = GatewayConfig(
        base_url=base_url,
        api_key="test-key" if base_url else None,
        default_model="model-a",
        feature_models={"intent_route": ["model-a", "model-b"]},
        connect_timeout_s=2,
        read_timeout_s=2,
        deadline_s=20,
        max_attempts=3,
        max_reasks=2,
        breaker_failures=3,
        breaker_cooldown_s=60,
        rate_limit_per_minute=1000,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
        hang_after_s=0.2,
    )
    return replace(config, **overrides)


@dataclass
class Harness:
    gateway: Gateway
    engine: AsyncEngine
    sessions: async_sessionmaker
    tenant_id: uuid.UUID
    tenant: TenantConfig

    def ctx(self, **tenant_changes: Any) -> CallContext:
        tenant = TenantConfig.model_validate({**self.tenant.model_dump(), **tenant_changes})
        return CallContext(tenant_id=self.tenant_id, tenant=tenant)

    async def usage(self, request_id: str | None = None) -> list[m.UsageRecord]:
        await self.gateway.ledger.flush()
        async with self.sessions() as session:
            stmt = select(m.UsageRecord).order_by(m.UsageRecord.id)
            if request_id:
                stmt = stmt.where(m.UsageRecord.request_id == request_id)
            return list((await session.execute(stmt)).scalars())


@asynccontextmanager
async def gateway_harness(
    tmp_path: Path, redis_url: str, config: GatewayConfig, *, flush_interval_s: float = 0.05
) -> AsyncIterator[Harness]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}")
    await upgrade(engine)
    sessions = session_factory(engine)
    async with sessions() as session:
        tenant = await admin.create_tenant(session, name=f"Shop {uuid.uuid4().hex[:6]}")
        await session.commit()
        tenant_id = tenant.id
    redis = create_redis(redis_url)
    ledger = UsageLedger(sessions, redis, flush_interval_s=flush_interval_s)
    ledger.start()
    gateway = Gateway(
        config, redis=redis, ledger=ledger, prompts=PromptRegistry.load(default_prompts_dir()), prices=PRICES
    )
    try:
        yield Harness(gateway, engine, sessions, tenant_id, TenantConfig())
    finally:
        await gateway.aclose()
        await redis.aclose()
        await engine.dispose()
