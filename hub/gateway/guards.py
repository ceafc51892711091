"""Check before any model call: the tenant's AI switch, its budget, its rate limit, the circuits."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

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


# One round trip, one command: count this call against the tenant's minute, read its spend and the
# circuits of every model in the chain. A pipeline of the same commands costs twice the client CPU.
_PREFLIGHT_LUA = """
local calls = redis.call('INCR', KEYS[1])
if calls == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local out = {calls, redis.call('GET', KEYS[2]) or '0', redis.call('GET', KEYS[3]) or '0'}
for i = 4, #KEYS do
  local b = redis.call('HMGET', KEYS[i], 'failures', 'open_until')
  out[#out + 1] = b[1] or '0'
  out[#out + 1] = b[2] or '0'
end
return out
"""


def spend_keys(tenant_id: uuid.UUID, at: datetime) -> tuple[str, str]:
    return f"{SPEND}:{tenant_id}:{at:%Y-%m-%d}", f"{SPEND}:{tenant_id}:{at:%Y-%m}"


class Guard:
    """The checks every model call passes first; holds the preflight script registered on one client."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self._script: AsyncScript = redis.register_script(_PREFLIGHT_LUA)

    async def preflight(
        self,
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
        breaker_keys = [CircuitBreaker.key(provider, model) for model in models]
        raw = await self._script(keys=[rate_key, day_key, month_key, *breaker_keys], args=[120])
        calls, day_spend, month_spend = int(raw[0]), raw[1], raw[2]
        snapshots = {
            model: BreakerSnapshot(failures=int(raw[3 + 2 * i]), open_until=float(raw[4 + 2 * i]))
            for i, model in enumerate(models)
        }
        if calls > rate_limit_per_minute:
            return Preflight(
                Refusal.RATE_LIMITED, f"over {rate_limit_per_minute} model calls this minute", breakers=snapshots
            )
        spent_day, spent_month = Decimal(day_spend), Decimal(month_spend)
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
