"""Check before any model call: the kill switches, the tenant's AI switch, its budget, its rate limit, the circuits."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

import redis.asyncio as aioredis
import structlog
from redis.commands.core import AsyncScript

from hub.constants import RATE_LIMIT
from hub.gateway.breaker import BreakerSnapshot, CircuitBreaker
from hub.gateway.switches import SwitchBoard
from hub.tenancy.config import TenantConfig
from hub.usage.billing import check_budget, has_budget, spend_keys

log = structlog.get_logger(__name__)


class Refusal(StrEnum):
    """Why no model was asked; each sends the caller to its deterministic fallback."""

    NO_MODEL = "no_model"
    SWITCHED_OFF = "switched_off"
    """A kill switch is off: the tenant's feature (or all of them), or every model of the chain."""
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


# One round trip for everything the guard needs from Redis: add this process's call counts to each
# tenant's minute, read the spend of each tenant and the circuits of each model. Called by the
# background sync (and once, inline, for a tenant or model not yet seen), never per model call.
# KEYS: rate keys, then day/month spend key pairs, then breaker keys. ARGV: ttl, #rate, #spend
# pairs, then one count per rate key.
_SYNC_LUA = """
local ttl, n_rate, n_spend = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 1, n_rate do
  local total = redis.call('INCRBY', KEYS[i], ARGV[3 + i])
  redis.call('EXPIRE', KEYS[i], ttl)
  out[#out + 1] = total
end
for i = n_rate + 1, n_rate + 2 * n_spend do
  out[#out + 1] = redis.call('GET', KEYS[i]) or '0'
end
for i = n_rate + 2 * n_spend + 1, #KEYS do
  local b = redis.call('HMGET', KEYS[i], 'failures', 'open_until')
  out[#out + 1] = b[1] or '0'
  out[#out + 1] = b[2] or '0'
end
return out
"""
_SEEN_FOR_S = 120.0
_ZERO = Decimal(0)


def rate_key(tenant_id: uuid.UUID, at: float) -> str:
    return f"{RATE_LIMIT}:{tenant_id}:{int(at // 60)}"


class Guard:
    """The checks every model call passes first, answered from a local view of Redis.

    A Redis round trip per call would cost more client CPU than the rest of the gateway together,
    so call counts accumulate locally and a background task adds them to Redis every
    `sync_interval_s`, reading back the global counts, spend and circuit states. Within a process
    every limit is exact; across replicas a limit can be overshot by what the others did since
    their last sync (100 ms by default). Local writes (spend from the ledger, circuit changes from
    the breaker) update the view at once.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        breaker: CircuitBreaker,
        *,
        sync_interval_s: float = 0.1,
        switches: SwitchBoard | None = None,
    ) -> None:
        self._script: AsyncScript = redis.register_script(_SYNC_LUA)
        self._breaker = breaker
        self._switches = switches
        self._interval = sync_interval_s
        self._unsynced: dict[str, int] = defaultdict(int)
        """rate key → calls this process made that Redis does not know yet."""
        self._global_calls: dict[str, int] = {}
        """rate key → the tenant's calls in that minute, all processes, as of the last sync."""
        self._spend: dict[str, Decimal] = {}
        """spend key → USD as of the last sync, plus what this process's ledger has written since."""
        self._tenants: dict[uuid.UUID, float] = {}
        self._models: dict[tuple[str, str], float] = {}
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._keys: dict[uuid.UUID, tuple[int, str, str, str]] = {}
        """tenant → (UTC day number, its day and month spend keys, its rate key prefix): built once a day."""

    def add_spend(self, tenant_id: uuid.UUID, at: datetime, amount: Decimal) -> None:
        """Count spend the ledger just wrote, so budgets see it before the next sync."""
        for key in spend_keys(tenant_id, at):
            if key in self._spend:
                self._spend[key] += amount

    async def sync(
        self, *, extra_tenants: Iterable[uuid.UUID] = (), extra_models: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Push local call counts to Redis and refresh counts, spend and circuits of recently seen tenants and models."""
        async with self._lock:
            now_mono, now = time.monotonic(), datetime.now(UTC)
            for tenant_id in extra_tenants:
                self._tenants[tenant_id] = now_mono
            for pm in extra_models:
                self._models[pm] = now_mono
            self._tenants = {t: seen for t, seen in self._tenants.items() if now_mono - seen < _SEEN_FOR_S}
            self._models = {pm: seen for pm, seen in self._models.items() if now_mono - seen < _SEEN_FOR_S}
            self._keys = {t: keys for t, keys in self._keys.items() if t in self._tenants}
            pending, self._unsynced = dict(self._unsynced), defaultdict[str, int](int)
            tenants, models = list(self._tenants), list(self._models)
            for tenant_id in tenants:  # INCRBY 0 reads the minute's count that other replicas made
                pending.setdefault(rate_key(tenant_id, time.time()), 0)
            spend = [key for t in tenants for key in spend_keys(t, now)]
            breakers = [CircuitBreaker.key(p, m) for p, m in models]
            try:
                raw = await self._script(
                    keys=[*pending, *spend, *breakers], args=[120, len(pending), len(tenants), *pending.values()]
                )
            except BaseException:
                for key, count in pending.items():
                    self._unsynced[key] += count
                raise
            for i, key in enumerate(pending):
                self._global_calls[key] = int(raw[i])
            offset = len(pending)
            self._spend = {key: Decimal(raw[offset + i]) for i, key in enumerate(spend)}
            offset += len(spend)
            for i, (provider, model) in enumerate(models):
                self._breaker.remember(
                    provider, model, BreakerSnapshot(int(raw[offset + 2 * i]), float(raw[offset + 2 * i + 1]))
                )
            current_minute = int(time.time() // 60)
            self._global_calls = {
                k: v for k, v in self._global_calls.items() if int(k.rsplit(":", 1)[1]) >= current_minute - 1
            }

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.sync()
            except Exception:
                log.warning("guard_sync_failed", exc_info=True)

    async def aclose(self) -> None:
        """Stop syncing, after pushing the last local call counts."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.sync()

    def _keys_of(self, tenant_id: uuid.UUID, now: float) -> tuple[str, str, str]:
        """The tenant's spend keys for today (UTC) and its rate key prefix, without formatting dates per call."""
        day = int(now // 86400)
        cached = self._keys.get(tenant_id)
        if cached is None or cached[0] != day:
            day_key, month_key = spend_keys(tenant_id, datetime.fromtimestamp(now, UTC))
            cached = self._keys[tenant_id] = (day, day_key, month_key, rate_key(tenant_id, 0)[:-1])
        return cached[1], cached[2], cached[3]

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
        """Decide whether this call may reach a model, and which circuits are open, without a round trip."""
        if self._switches is not None:
            await self._switches.ready()
            if (switch := self._switches.tenant_off(tenant_id, feature)) is not None:
                return Preflight(Refusal.SWITCHED_OFF, switch.describe())
            off = [switch for model in models if (switch := self._switches.model_off(model)) is not None]
            if off and len(off) == len(models):
                described = "; ".join(switch.describe() for switch in off)
                return Preflight(Refusal.SWITCHED_OFF, f"every model for {feature!r} is off: {described}")
        if not models:
            return Preflight(Refusal.NO_MODEL, "no model is configured")
        if tenant.ai_enabled.get(feature, True) is False:
            return Preflight(Refusal.AI_OFF, f"AI is switched off for {feature!r}")
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gateway-guard-sync")
        now, now_mono = time.time(), time.monotonic()
        day_key, month_key, rate_prefix = self._keys_of(tenant_id, now)
        unseen_models = [(provider, m) for m in models if (provider, m) not in self._models]
        if day_key not in self._spend or unseen_models:
            await self.sync(extra_tenants=[tenant_id], extra_models=unseen_models)
        self._tenants[tenant_id] = now_mono
        for model in models:
            self._models[(provider, model)] = now_mono
        minute_key = f"{rate_prefix}{int(now // 60)}"
        self._unsynced[minute_key] += 1
        calls = self._global_calls.get(minute_key, 0) + self._unsynced[minute_key]
        snapshots = self._breaker.snapshots_of(provider, models)
        if calls > rate_limit_per_minute:
            return Preflight(
                Refusal.RATE_LIMITED, f"over {rate_limit_per_minute} model calls this minute", breakers=snapshots
            )
        if not has_budget(tenant.budgets):
            return Preflight(None, breakers=snapshots)
        budget = check_budget(tenant.budgets, self._spend.get(day_key, _ZERO), self._spend.get(month_key, _ZERO))
        if budget.state == "exhausted":
            return Preflight(Refusal.BUDGET_EXHAUSTED, budget.detail or "", breakers=snapshots)
        return Preflight(None, budget_warning=budget.detail, breakers=snapshots)
