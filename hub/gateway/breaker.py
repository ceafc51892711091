"""Open a circuit per provider+model on a hang or repeated failures; close it again from a background probe.

A model that hangs costs every caller a whole deadline, so a hang (an attempt that hit its read timeout
or the call's deadline, or that the caller cancelled because its own deadline passed) opens the circuit
at once. Other retryable failures (429, 5xx, dropped connections, broken streams) count one each and
open it after `failures` in a row; a call that succeeds closes a circuit that is not open.

An open circuit refuses every caller, who gets the deterministic fallback at once, before and after its
cooldown: no shopper's turn is ever the probe. Once the cooldown passes, one background task per process
tries to take the `…:probe` lock in Redis (so one replica probes at a time), sends a tiny real request
through the caller-supplied `Probe`, and closes the circuit on success or opens it for another cooldown.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal, cast

import redis.asyncio as aioredis
import structlog
from redis.commands.core import AsyncScript

from hub.constants import BREAKER

log = structlog.get_logger(__name__)

BreakerState = Literal["closed", "open", "half_open"]
Probe = Callable[[str, uuid.UUID | None], Awaitable[bool]]
"""Send a tiny real request to `model`; return whether it answered. Billed to the tenant (or None) given."""

# KEYS[1]: the breaker hash. ARGV: weight, threshold, open_until if it opens now, ttl, tenant (or "").
# Returns [failures, open_until]. One round trip, atomic across replicas.
_FAIL_LUA = """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', ARGV[1])
local open_until = redis.call('HGET', KEYS[1], 'open_until') or '0'
if failures >= tonumber(ARGV[2]) then
  open_until = ARGV[3]
  redis.call('HSET', KEYS[1], 'open_until', open_until)
  if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'tenant', ARGV[5]) end
end
redis.call('EXPIRE', KEYS[1], ARGV[4])
return {failures, open_until}
"""
_PROBE_MARGIN_S = 1.0
"""Slack past the probe's own timeout: for the safety timeout around it, and twice over for its lock."""


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    failures: int
    open_until: float
    tenant: uuid.UUID | None = None
    """The tenant whose call opened the circuit: the probe that closes it is billed to it."""

    @classmethod
    def parse(cls, raw: dict[str, str]) -> BreakerSnapshot:
        tenant = raw.get("tenant")
        return cls(
            failures=int(raw.get("failures", 0)),
            open_until=float(raw.get("open_until", 0)),
            tenant=uuid.UUID(tenant) if tenant else None,
        )

    def state(self, now: float) -> BreakerState:
        if self.open_until == 0:
            return "closed"
        return "open" if now < self.open_until else "half_open"


_CLOSED = BreakerSnapshot(failures=0, open_until=0.0)


class CircuitBreaker:
    """State lives in Redis so every replica and worker sees the same circuit; each process keeps a view of it."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        failures: int,
        cooldown_s: float,
        probe: Probe | None = None,
        probe_timeout_s: float = 30.0,
    ) -> None:
        self.redis = redis
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self.probe = probe
        """None: nothing probes, and a circuit stays open until a failure-free cooldown lets its key expire."""
        self.probe_timeout_s = probe_timeout_s
        self._fail: AsyncScript = redis.register_script(_FAIL_LUA)
        self._known: dict[tuple[str, str], BreakerSnapshot] = {}
        """This process's view, refreshed by the guard's sync and updated by our own writes."""
        self._writing: dict[tuple[str, str], int] = {}
        """Failure writes in flight per circuit: a sync must not overwrite what they already put in the view."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._probes: dict[tuple[str, str], asyncio.Task[None]] = {}

    def remember(self, provider: str, model: str, snapshot: BreakerSnapshot) -> None:
        """Take a snapshot read from Redis into this process's view (a local write in flight wins)."""
        if not self._writing.get((provider, model)):
            self._known[(provider, model)] = snapshot

    def snapshot_of(self, provider: str, model: str) -> BreakerSnapshot:
        return self._known.get((provider, model), _CLOSED)

    def snapshots_of(self, provider: str, models: list[str]) -> dict[str, BreakerSnapshot]:
        known = self._known
        return {model: known.get((provider, model), _CLOSED) for model in models}

    @staticmethod
    def key(provider: str, model: str) -> str:
        return f"{BREAKER}:{provider}:{model}"

    async def snapshot(self, provider: str, model: str) -> BreakerSnapshot:
        raw = await self.redis.hgetall(self.key(provider, model))
        return BreakerSnapshot.parse(cast("dict[str, str]", raw))  # create_redis decodes replies to str

    def admit(self, provider: str, model: str, snapshot: BreakerSnapshot) -> bool:
        """Closed: yes. Open or half-open: no, and make sure this process has a probe waiting to close it."""
        if snapshot.open_until == 0:
            return True
        self._start_probe(provider, model)
        return False

    async def record_success(self, provider: str, model: str, snapshot: BreakerSnapshot) -> None:
        """Forget counted failures after a good answer; an open circuit stays open (only the probe closes it)."""
        if snapshot.failures and not snapshot.open_until and not self.snapshot_of(provider, model).open_until:
            await self.redis.delete(self.key(provider, model))
            self._known[(provider, model)] = _CLOSED

    async def record_failure(
        self, provider: str, model: str, *, hang: bool = False, tenant_id: uuid.UUID | None = None
    ) -> None:
        """Count one failure; a hang (timeout, deadline, the caller's cancellation) opens the circuit at once."""
        await self._write_failure(self._note_locally(provider, model, hang, tenant_id), hang, tenant_id)

    def note_failure(
        self, provider: str, model: str, *, hang: bool = False, tenant_id: uuid.UUID | None = None
    ) -> None:
        """Count a failure without waiting: this process's view changes now, Redis a moment later.

        For a caller that is being cancelled: it must not wait on Redis, and its cancellation must not
        stop the write.
        """
        pm = self._note_locally(provider, model, hang, tenant_id)
        self._track(self._write_failure(pm, hang, tenant_id), f"breaker-failure {model}")

    def _note_locally(self, provider: str, model: str, hang: bool, tenant_id: uuid.UUID | None) -> tuple[str, str]:
        pm = (provider, model)
        known = self.snapshot_of(provider, model)
        failures = known.failures + (self.threshold if hang else 1)
        open_until = time.time() + self.cooldown_s if failures >= self.threshold else known.open_until
        self._known[pm] = BreakerSnapshot(failures, open_until, tenant_id or known.tenant)
        self._writing[pm] = self._writing.get(pm, 0) + 1
        return pm

    async def _write_failure(self, pm: tuple[str, str], hang: bool, tenant_id: uuid.UUID | None) -> None:
        try:
            failures, stored = await self._fail(
                keys=[self.key(*pm)],
                args=[
                    self.threshold if hang else 1,
                    self.threshold,
                    time.time() + self.cooldown_s,
                    self._ttl_s,
                    str(tenant_id or ""),
                ],
            )
        finally:
            self._writing[pm] -= 1
            if not self._writing[pm]:
                del self._writing[pm]
        self._known[pm] = BreakerSnapshot(int(failures), float(stored), tenant_id or self.snapshot_of(*pm).tenant)
        if float(stored):
            self._start_probe(*pm)

    @property
    def _ttl_s(self) -> int:
        """How long a circuit's state outlives its last failure: a few rounds of cooldown and probe."""
        return max(60, int((self.cooldown_s + self.probe_timeout_s) * 10))

    # The probe

    def _start_probe(self, provider: str, model: str) -> None:
        pm = (provider, model)
        if self.probe is None or pm in self._probes:
            return
        task = self._track(self._probe_until_closed(provider, model), f"breaker-probe {model}")
        self._probes[pm] = task
        task.add_done_callback(lambda _: self._probes.pop(pm, None))

    async def _probe_until_closed(self, provider: str, model: str) -> None:
        assert self.probe is not None
        pm, key = (provider, model), self.key(provider, model)
        lock = key + ":probe"
        lock_ms = int((self.probe_timeout_s + 2 * _PROBE_MARGIN_S) * 1000)
        while True:
            snapshot = await self.snapshot(provider, model)  # Redis is the truth; it also names the tenant
            self.remember(provider, model, snapshot)
            if snapshot.open_until == 0:
                return
            if (wait := snapshot.open_until - time.time()) > 0:
                await asyncio.sleep(wait)
                continue
            if not await self.redis.set(lock, "1", nx=True, px=lock_ms):
                # Another replica is probing: its verdict reaches Redis by the time its lock expires.
                await asyncio.sleep(min(self.cooldown_s, self.probe_timeout_s + 2 * _PROBE_MARGIN_S))
                continue
            try:
                answered = await self._run_probe(model, snapshot.tenant)
                if answered:
                    await self.redis.delete(key)
                    self._known[pm] = _CLOSED
                    log.info("circuit_closed", provider=provider, model=model)
                    return
                open_until = time.time() + self.cooldown_s
                pipe = self.redis.pipeline(transaction=False)
                pipe.hset(key, "open_until", open_until)
                pipe.expire(key, self._ttl_s)
                await pipe.execute()
                self._known[pm] = BreakerSnapshot(max(snapshot.failures, self.threshold), open_until, snapshot.tenant)
                log.warning("circuit_reopened", provider=provider, model=model, cooldown_s=self.cooldown_s)
            finally:
                with contextlib.suppress(Exception):
                    await self.redis.delete(lock)

    async def _run_probe(self, model: str, tenant: uuid.UUID | None) -> bool:
        assert self.probe is not None
        try:
            async with asyncio.timeout(self.probe_timeout_s + _PROBE_MARGIN_S):  # the probe keeps its own time
                return await self.probe(model, tenant)
        except Exception:
            log.warning("circuit_probe_failed", model=model, exc_info=True)
            return False

    # Background tasks

    def _track(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        # A fresh context: the task outlives the call that started it and must not log as part of its request.
        task = asyncio.get_running_loop().create_task(work, name=name, context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("breaker_task_failed", task=task.get_name(), error=repr(exc))

    async def aclose(self) -> None:
        """Let pending failure writes land, and stop every probe."""
        for task in list(self._probes.values()):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
