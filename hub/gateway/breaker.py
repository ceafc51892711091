"""Open a circuit per provider+model after repeated failures; let one probe through after a cooldown."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import redis.asyncio as aioredis

from hub.constants import BREAKER

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    failures: int
    open_until: float

    @classmethod
    def parse(cls, raw: dict[str, str]) -> BreakerSnapshot:
        return cls(failures=int(raw.get("failures", 0)), open_until=float(raw.get("open_until", 0)))

    def state(self, now: float) -> BreakerState:
        if self.open_until == 0:
            return "closed"
        return "open" if now < self.open_until else "half_open"


_CLOSED = BreakerSnapshot(failures=0, open_until=0.0)


class CircuitBreaker:
    """State lives in Redis so every replica and worker sees the same circuit."""

    def __init__(self, redis: aioredis.Redis, *, failures: int, cooldown_s: float) -> None:
        self.redis = redis
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self._known: dict[tuple[str, str], BreakerSnapshot] = {}
        """This process's view, refreshed by the guard's sync and updated by our own writes."""

    def remember(self, provider: str, model: str, snapshot: BreakerSnapshot) -> None:
        self._known[(provider, model)] = snapshot

    def snapshot_of(self, provider: str, model: str) -> BreakerSnapshot:
        return self._known.get((provider, model), _CLOSED)

    @staticmethod
    def key(provider: str, model: str) -> str:
        return f"{BREAKER}:{provider}:{model}"

    async def snapshot(self, provider: str, model: str) -> BreakerSnapshot:
        return BreakerSnapshot.parse(await self.redis.hgetall(self.key(provider, model)))

    async def admit(self, provider: str, model: str, snapshot: BreakerSnapshot) -> bool:
        """Closed: yes. Open: no. Half-open: yes for exactly one caller (the probe) per cooldown."""
        state = snapshot.state(time.time())
        if state == "closed":
            return True
        if state == "open":
            return False
        probe_ms = max(1, int(self.cooldown_s * 1000))
        return bool(await self.redis.set(self.key(provider, model) + ":probe", "1", nx=True, px=probe_ms))

    async def record_success(self, provider: str, model: str, snapshot: BreakerSnapshot) -> None:
        if snapshot.failures or snapshot.open_until:
            await self.redis.delete(self.key(provider, model), self.key(provider, model) + ":probe")
            self._known[(provider, model)] = _CLOSED

    async def record_failure(self, provider: str, model: str) -> None:
        key = self.key(provider, model)
        failures = await self.redis.hincrby(key, "failures", 1)
        open_until = self.snapshot_of(provider, model).open_until
        if failures >= self.threshold:
            open_until = time.time() + self.cooldown_s
            await self.redis.hset(key, "open_until", open_until)
        await self.redis.expire(key, max(60, int(self.cooldown_s * 10)))
        self._known[(provider, model)] = BreakerSnapshot(failures, open_until)
