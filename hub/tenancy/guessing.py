"""Slow down and lock out guessing: failed console sign-ins and invalid API keys, counted in Redis.

Each subject (an operator's email, a client address) has a hash in Redis: its failures, a time before which it
may not try again, and whether that time is a lockout. Failures past a free allowance make the next try wait
longer each time (1 s, 2 s, 4 s… for sign-ins); reaching the maximum locks the subject out for a fixed time, during
which every try is refused unchecked, a right password too. Failures are forgotten a window after the last one.

A sign-in counts its try before the password is checked (`attempt`) and gives it back once it turns out right or
was no guess (`succeeded`, `released`), so a burst of tries sent at once is refused past the maximum instead of
all being checked. An API key is checked first and counted only when invalid (`check`, then `failed`): a valid
key's request costs one Redis read. The same counters serve every replica: they live in Redis, with expiry.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from hub.constants import KEY_GUESSES, SIGNIN_GUESSES
from hub.settings import Settings

log = structlog.get_logger(__name__)


class Subject(StrEnum):
    """Whom failures are counted against."""

    ACCOUNT = "account"
    CLIENT = "client"


@dataclass(frozen=True)
class GuessLimit:
    """How many failures one subject may have, and what follows."""

    max_failures: int
    """Failures that lock the subject out."""
    lockout_s: float
    free_failures: int | None = None
    """Failures before each further one makes the next try wait (`delay_s`, doubling); None: no waits."""
    delay_s: float = 1.0
    window_s: float = 900.0
    """Failures are forgotten this long after the last one."""


@dataclass(frozen=True)
class Refused:
    """A try refused unchecked: wait `retry_after_s`; `locked` when it is a lockout, not a growing wait."""

    retry_after_s: int
    locked: bool
    locked_now: tuple[Subject, ...] = ()
    """Subjects this try locked out (a burst past the maximum, or a try made while it had to wait)."""

    def message(self, what: str) -> str:
        why = "locked out after too many" if self.locked else "too many"
        return f"{why} {what}; try again in {self.retry_after_s} s"


class _Outcome(IntEnum):
    ALLOWED = 0
    WAIT = 1
    LOCKED = 2


# Every script takes KEYS: one hash per subject, and after its own ARGV the limits per subject, five each:
# max failures, free failures (-1: none), first delay (ms), lockout (ms), window (ms). Time is Redis's own, so every
# replica agrees on it.
_LOCK = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function limit(i, offset)
  local b = offset + (i - 1) * 5
  return tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]),
    tonumber(ARGV[b + 5])
end
local function lock(key, now, lockout)
  redis.call('HSET', key, 'fails', 0, 'until', now + lockout, 'locked', 1)
  redis.call('PEXPIRE', key, lockout)
end
"""

_ATTEMPT = (
    _LOCK
    + """
-- ARGV[1]: 1 to count this try as a failure until it is proven right (a sign-in), 0 to only look (an API key).
-- Returns {outcome (0 allowed, 1 wait, 2 locked), wait (ms), bitmask of subjects this try locked out}.
local now, reserve = now_ms(), tonumber(ARGV[1])
local wait, locked, waiting = 0, false, false
local states = {}
for i, key in ipairs(KEYS) do
  local s = redis.call('HMGET', key, 'until', 'locked')
  local until_ms = tonumber(s[1] or 0)
  states[i] = until_ms
  if until_ms > now then
    wait = math.max(wait, until_ms - now)
    if s[2] == '1' then locked = true else waiting = true end
  end
end
if locked then return {2, wait, 0} end
if reserve == 0 then return {waiting and 1 or 0, wait, 0} end
local locked_now = 0
for i, key in ipairs(KEYS) do
  local max, free, delay, lockout, window = limit(i, 1)
  local fails = redis.call('HINCRBY', key, 'fails', 1)
  redis.call('PEXPIRE', key, math.max(window, states[i] - now))
  -- Past the maximum (tries sent together), or at it while made too early: locked out, unchecked.
  if fails > max or (waiting and fails >= max) then
    lock(key, now, lockout)
    locked_now = locked_now + 2 ^ (i - 1)
    wait = math.max(wait, lockout)
  end
end
if locked_now > 0 then return {2, wait, locked_now} end
return {waiting and 1 or 0, wait, 0}
"""
)

_FAILED = (
    _LOCK
    + """
-- ARGV[1]: 1 to count the failure now, 0 when `attempt` counted it already.
-- Returns {bitmask of subjects this failure locked out, wait (ms) it imposes}.
local now, count = now_ms(), tonumber(ARGV[1])
local locked_now, wait = 0, 0
for i, key in ipairs(KEYS) do
  local max, free, delay, lockout, window = limit(i, 1)
  local s = redis.call('HMGET', key, 'fails', 'until', 'locked')
  if s[3] == '1' and tonumber(s[2] or 0) > now then
    wait = math.max(wait, tonumber(s[2]) - now)  -- locked meanwhile by a try sent at the same time
  else
    local fails = tonumber(s[1] or 0)
    if count == 1 then fails = redis.call('HINCRBY', key, 'fails', 1) end
    if fails >= max then
      lock(key, now, lockout)
      locked_now = locked_now + 2 ^ (i - 1)
      wait = math.max(wait, lockout)
    elseif free >= 0 and fails > free then
      local pause = math.min(delay * 2 ^ (fails - free - 1), lockout)
      redis.call('HSET', key, 'until', now + pause, 'locked', 0)
      redis.call('PEXPIRE', key, math.max(window, pause))
      wait = math.max(wait, pause)
    else
      redis.call('PEXPIRE', key, window)
    end
  end
end
return {locked_now, wait}
"""
)

_RELEASE = """
-- Give back the try `attempt` counted. ARGV[1]: 1 to forget the first subject altogether (its owner proved who
-- they are); the others keep their earlier failures.
for i, key in ipairs(KEYS) do
  if i == 1 and ARGV[1] == '1' then
    redis.call('DEL', key)
  elseif tonumber(redis.call('HGET', key, 'fails') or 0) > 0 then
    redis.call('HINCRBY', key, 'fails', -1)
  end
end
return 0
"""


class GuessThrottle:
    """Failures per subject in Redis under `prefix`, each scope with its own `GuessLimit`."""

    def __init__(self, redis: aioredis.Redis, prefix: str, limits: Mapping[Subject, GuessLimit]) -> None:
        self._redis = redis
        self._prefix = prefix
        self._limits = dict(limits)

    def _call(self, subjects: Mapping[Subject, str]) -> tuple[list[str], list[Subject], list[int | float]]:
        scopes = [scope for scope in self._limits if scope in subjects]
        keys = [f"{self._prefix}:{scope}:{subjects[scope]}" for scope in scopes]
        args: list[int | float] = []
        for scope in scopes:
            lim = self._limits[scope]
            free = -1 if lim.free_failures is None else lim.free_failures
            args += [lim.max_failures, free, _ms(lim.delay_s), _ms(lim.lockout_s), _ms(lim.window_s)]
        return keys, scopes, args

    async def _run(self, script: str, subjects: Mapping[Subject, str], flag: int) -> tuple[list[Subject], list[int]]:
        keys, scopes, args = self._call(subjects)
        try:
            result = await self._redis.register_script(script)(keys=keys, args=[flag, *args])
        except RedisError as exc:
            # Fail open: with Redis unreachable the key or password is still checked, only not counted; refusing
            # every request instead would turn a Redis outage into a whole-service outage.
            _unavailable(self._prefix, exc)
            return scopes, [_Outcome.ALLOWED, 0, 0] if script is _ATTEMPT else [0, 0]  # allowed; nobody locked
        return scopes, [int(x) for x in result]

    async def attempt(self, subjects: Mapping[Subject, str]) -> Refused | None:
        """Count a try before it is checked; None: check it, then call `failed`, `succeeded` or `released`."""
        return _refusal(*await self._run(_ATTEMPT, subjects, 1))

    async def check(self, subjects: Mapping[Subject, str]) -> Refused | None:
        """Look without counting: None when the subjects may try now."""
        return _refusal(*await self._run(_ATTEMPT, subjects, 0))

    async def failed(self, subjects: Mapping[Subject, str], *, counted: bool) -> tuple[Subject, ...]:
        """Record a failure (`counted`: `attempt` did already); return the subjects it locked out."""
        scopes, (bits, _) = await self._run(_FAILED, subjects, 0 if counted else 1)
        return _locked(scopes, bits)

    async def succeeded(self, subjects: Mapping[Subject, str]) -> None:
        """The try was right: forget the account's failures; the address keeps its earlier ones."""
        await self._release(subjects, forget_account=True)

    async def released(self, subjects: Mapping[Subject, str]) -> None:
        """The try was no guess (a malformed request): give it back."""
        await self._release(subjects, forget_account=False)

    async def _release(self, subjects: Mapping[Subject, str], *, forget_account: bool) -> None:
        keys, scopes, _ = self._call(subjects)
        forget = int(forget_account and scopes[:1] == [Subject.ACCOUNT])
        try:
            await self._redis.register_script(_RELEASE)(keys=keys, args=[forget])
        except RedisError as exc:
            _unavailable(self._prefix, exc)


def _unavailable(prefix: str, exc: RedisError) -> None:
    log.warning("guess_throttle_unavailable", throttle=prefix, error=f"{type(exc).__name__}: {exc}")


def _ms(seconds: float) -> int:
    return math.ceil(seconds * 1000)


def _locked(scopes: list[Subject], bits: int) -> tuple[Subject, ...]:
    return tuple(scope for i, scope in enumerate(scopes) if bits & (1 << i))


def _refusal(scopes: list[Subject], result: list[int]) -> Refused | None:
    outcome, wait_ms, bits = result
    if outcome == _Outcome.ALLOWED:
        return None
    return Refused(
        retry_after_s=max(1, math.ceil(wait_ms / 1000)),
        locked=outcome == _Outcome.LOCKED,
        locked_now=_locked(scopes, bits),
    )


def account_id(email: str) -> str:
    """The account a sign-in names, as a fixed-length key: the email as sign-in matches it, hashed."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def sign_in_guesses(redis: aioredis.Redis, settings: Settings) -> GuessThrottle:
    """Console sign-ins, per account (email) and per client address."""
    return GuessThrottle(
        redis,
        SIGNIN_GUESSES,
        {
            Subject.ACCOUNT: GuessLimit(
                max_failures=settings.signin_max_failures, lockout_s=settings.signin_lockout_s, free_failures=3
            ),
            Subject.CLIENT: GuessLimit(
                max_failures=settings.signin_max_failures_per_client,
                lockout_s=settings.signin_lockout_s,
                free_failures=10,
            ),
        },
    )


def key_guesses(redis: aioredis.Redis, settings: Settings) -> GuessThrottle:
    """Invalid API keys, per client address."""
    return GuessThrottle(
        redis,
        KEY_GUESSES,
        {
            Subject.CLIENT: GuessLimit(
                max_failures=settings.key_max_failures_per_client, lockout_s=settings.key_lockout_s
            )
        },
    )
