"""Check before any model call: the tenant's AI switch, its budget, its rate limit, the circuits."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

import redis.asyncio as aioredis

from hub.constants import RATE_LIMIT, SPEND
from hub.gateway.breaker import BreakerSnapshot, CircuitBreaker
from hub.tenancy.config import TenantConfig


class Refusal(StrEnum):
    """Why no model was asked; each sends the caller to its deterministic fallback."""

    NO_MODEL = "no_model"
    AI_OFF = "ai_off"
    BUDGET_EXHAUSTED = "budget_exhausted"
    RATE_LIMITED = "rate_limited"
    CIRCUITS_OPEN = "circuits_open"
    MODELS_FAILED = "models_failed"
    INVALID_OUTPUT = "invalid_output"


@dataclass(frozen=True, slots=True)
class Preflight:
    refusal: Refusal | None
    detail: str = ""
    budget_warning: str | None = None
    breakers: dict[str, BreakerSnapshot] = field(default_factory=dict)


def spend_keys(tenant_id: uuid.UUID, at: datetime) -> tuple[str, str]:
    return f"{SPEND}:{tenant_id}:{at:%Y-%m-%d}", f"{SPEND}:{tenant_id}:{at:%Y-%m}"


async def preflight(
    redis: aioredis.Redis,
    *,
    tenant_id: uuid.UUID,
    tenant: TenantConfig,
    feature: str,
    provider: str,
    models: list[str],
    rate_limit_per_minute: int,
) -> Preflight:
    """Decide in one Redis round trip whether this call may reach a model, and which circuits are open."""
    if not models:
        return Preflight(Refusal.NO_MODEL, "no model is configured")
    if tenant.ai_enabled.get(feature, True) is False:
        return Preflight(Refusal.AI_OFF, f"AI is switched off for {feature!r}")
    now = datetime.now(UTC)
    day_key, month_key = spend_keys(tenant_id, now)
    rate_key = f"{RATE_LIMIT}:{tenant_id}:{int(time.time() // 60)}"
    pipe = redis.pipeline(transaction=False)
    pipe.incr(rate_key)
    pipe.expire(rate_key, 120)
    pipe.mget(day_key, month_key)
    for model in models:
        pipe.hgetall(CircuitBreaker.key(provider, model))
    calls, _, (day_spend, month_spend), *breakers = await pipe.execute()
    snapshots = {model: BreakerSnapshot.parse(raw) for model, raw in zip(models, breakers, strict=True)}
    if calls > rate_limit_per_minute:
        return Preflight(
            Refusal.RATE_LIMITED, f"over {rate_limit_per_minute} model calls this minute", breakers=snapshots
        )
    spent_day, spent_month = Decimal(day_spend or 0), Decimal(month_spend or 0)
    b = tenant.budgets
    for spent, hard, label in ((spent_day, b.daily_hard, "daily"), (spent_month, b.monthly_hard, "monthly")):
        if hard is not None and spent >= hard:
            return Preflight(
                Refusal.BUDGET_EXHAUSTED, f"{label} budget of ${hard} spent (${spent:.4f})", breakers=snapshots
            )
    warning = None
    for spent, soft, label in ((spent_day, b.daily_soft, "daily"), (spent_month, b.monthly_soft, "monthly")):
        if soft is not None and spent >= soft:
            warning = f"{label} soft budget of ${soft} reached (${spent:.4f})"
    return Preflight(None, budget_warning=warning, breakers=snapshots)
