"""Assemble the process's one Gateway from settings, and check every tenant's prompt pins at startup."""

from __future__ import annotations

import redis.asyncio as aioredis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.db import models as m
from hub.gateway.config import GatewayConfig
from hub.gateway.gateway import Gateway
from hub.gateway.ledger import UsageLedger
from hub.gateway.switches import SwitchBoard
from hub.prompting.registry import PromptError, PromptRegistry, load_prompts
from hub.settings import Settings


def build_gateway(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    redis: aioredis.Redis,
    *,
    prompts: PromptRegistry | None = None,
) -> Gateway:
    """Return a gateway whose ledger is already flushing and whose kill switches are already loading in the
    background (call inside the event loop)."""
    ledger = UsageLedger(
        sessions,
        redis,
        flush_interval_s=settings.usage_flush_interval_s,
        batch_size=settings.usage_flush_batch,
        spill_dir=settings.data_dir / "spill",
    )
    ledger.start()
    switches = SwitchBoard(sessions, redis, poll_s=settings.switch_poll_s)
    switches.start()
    return Gateway(
        GatewayConfig.from_settings(settings),
        redis=redis,
        ledger=ledger,
        prompts=prompts or load_prompts(settings),
        switches=switches,
    )


async def verify_tenant_pins(session: AsyncSession, prompts: PromptRegistry) -> None:
    """Fail startup, naming tenant and pin, if any tenant pins a prompt version that is not released."""
    tenants = (await session.execute(select(m.Tenant.slug, m.Tenant.settings))).all()
    for slug, settings in tenants:
        try:
            prompts.check_pins((settings or {}).get("prompt_pins", {}))
        except PromptError as exc:
            raise PromptError(f"tenant {slug!r}: {exc}") from None
