"""Keep every WhatsApp account in memory: its tenant, its secrets, whether the tenant is active.

The webhook checks signatures and the worker finds the tenant behind a phone number without asking the database.
The copy is loaded at start and reloaded whenever `hub.tenancy.changes` announces a change to a tenant or a
channel account, and at least every `RELOAD_S` seconds however a change was written. A phone number the copy
does not know, or a signature that none of the known secrets makes, may be a change it has not heard of yet
(a number added by `hub seed demo`, a rotated secret): that reloads it at once, at most once per
`MISS_RELOAD_S`, so forged requests cost the database one query a second at most.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.aio import wait_event
from hub.db import models as m
from hub.encryption import SecretBox, SecretError
from hub.tenancy.changes import follow

log = structlog.get_logger(__name__)

RELOAD_S = 30.0
"""Longest a change written where nothing announces it (a CLI command, raw SQL) goes unseen."""
MISS_RELOAD_S = 1.0
"""Least time between two reloads for an unknown number or an unmatched signature."""
READY_S = 10.0
"""Longest a start waits for the first load (a stuck database); requests then reload on a miss."""


@dataclass(frozen=True, slots=True)
class Account:
    """One WhatsApp Business phone number as the channel needs it; `tenant` is detached from any session."""

    external_id: str
    """The phone number id (`metadata.phone_number_id`)."""
    tenant: m.Tenant
    config: Mapping[str, Any]
    """Verify token, app secret, access token, re-engagement template, as stored (the secrets encrypted)."""
    connected_at: datetime
    secret: bytes = field(repr=False)
    """The app secret, decrypted once when the account is loaded: the webhook checks signatures with it."""

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.tenant.id

    @property
    def active(self) -> bool:
        return self.tenant.active

    def signed(self, body: bytes, signature: str) -> bool:
        """Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` with this account's app secret."""
        if not self.secret:
            return False
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode(), signature.strip().encode())


class AccountDirectory:
    """This process's copy of every WhatsApp account, by phone number id; safe to share across tasks."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        redis: aioredis.Redis,
        *,
        box: SecretBox,
        reload_s: float = RELOAD_S,
        miss_reload_s: float = MISS_RELOAD_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._accounts: dict[str, Account] = {}
        self._miss_reload_s = miss_reload_s
        self._clock = clock
        self._started = 0
        self._applied = 0
        self._loaded = asyncio.Event()
        self._last_miss: float | None = None
        self._miss: asyncio.Task[None] | None = None
        self._follower = follow(redis, self._load, poll_s=reload_s, name="whatsapp-accounts")

    async def start(self) -> None:
        """Load the accounts and follow changes; wait up to `READY_S` for the first load."""
        self._follower.start()
        if not await wait_event(self._loaded, READY_S):
            log.warning("whatsapp_accounts_not_ready", waited_s=READY_S)

    async def aclose(self) -> None:
        await self._follower.aclose()
        if self._miss is not None:
            self._miss.cancel()
            await asyncio.gather(self._miss, return_exceptions=True)

    def get(self, phone_number_id: str) -> Account | None:
        """The account as last loaded, or None."""
        return self._accounts.get(phone_number_id)

    async def find(self, phone_number_id: str) -> Account | None:
        """The account, reloading once (rate-limited) when the number is unknown."""
        account = self._accounts.get(phone_number_id)
        if account is None and await self._reload_on_miss():
            account = self._accounts.get(phone_number_id)
        return account

    async def signers(self, body: bytes, signature: str, phone_number_ids: Collection[str]) -> list[Account]:
        """The accounts among `phone_number_ids` (every account when empty) whose app secret signed `body`.

        All of them share the secret that matched first; none when no secret matches, even after a reload.
        """
        found = self._signers(body, signature, phone_number_ids)
        if not found and await self._reload_on_miss():
            found = self._signers(body, signature, phone_number_ids)
        return found

    async def knows_verify_token(self, token: str) -> bool:
        """Whether `token` is some account's verify token (Meta's subscription handshake)."""
        if self._matches_verify_token(token):
            return True
        return await self._reload_on_miss() and self._matches_verify_token(token)

    def _matches_verify_token(self, token: str) -> bool:
        matches = [
            hmac.compare_digest(str(a.config.get("verify_token")).encode(), token.encode())
            for a in self._accounts.values()
            if a.config.get("verify_token")
        ]
        return any(matches)

    def _signers(self, body: bytes, signature: str, phone_number_ids: Collection[str]) -> list[Account]:
        candidates = (
            [a for i in phone_number_ids if (a := self._accounts.get(i)) is not None]
            if phone_number_ids
            else list(self._accounts.values())
        )
        tried: set[bytes] = set()
        for account in candidates:
            if account.secret in tried:
                continue
            tried.add(account.secret)
            if account.signed(body, signature):
                return [a for a in candidates if a.secret == account.secret]
        return []

    async def _reload_on_miss(self) -> bool:
        """Reload now unless a miss reloaded less than `MISS_RELOAD_S` ago; True when a reload ran for this call.

        Misses that arrive while one reloads wait for it; a failed reload keeps the last copy.
        """
        if self._miss is None or self._miss.done():
            now = self._clock()
            if self._last_miss is not None and now - self._last_miss < self._miss_reload_s:
                return False
            self._last_miss = now
            self._miss = asyncio.create_task(self._load(), name="whatsapp-accounts-miss")
        try:
            await asyncio.shield(self._miss)
        except Exception:
            log.warning("whatsapp_accounts_reload_failed", exc_info=True)
            return False
        return True

    async def _load(self) -> None:
        self._started += 1
        generation = self._started
        try:
            async with self._sessions() as session:
                rows = (
                    await session.execute(
                        select(m.ChannelAccount, m.Tenant)
                        .join(m.Tenant, m.Tenant.id == m.ChannelAccount.tenant_id)
                        .where(m.ChannelAccount.channel == m.Channel.WHATSAPP)
                    )
                ).all()
        finally:
            self._loaded.set()  # nobody waits longer for a first load that failed: misses reload
        if generation < self._applied:
            return  # a load that started later has already landed
        self._applied = generation
        self._accounts = {
            account.external_id: Account(
                external_id=account.external_id,
                tenant=tenant,
                config=dict(account.config or {}),
                connected_at=account.created_at,
                secret=self._app_secret(account),
            )
            for account, tenant in rows
        }

    def _app_secret(self, account: m.ChannelAccount) -> bytes:
        """The account's app secret in plaintext; empty (nothing verifies) when this key cannot decrypt it."""
        try:
            return self._box.open(str((account.config or {}).get("app_secret") or "")).encode()
        except SecretError:
            log.warning("whatsapp_app_secret_unreadable", phone_number_id=account.external_id)
            return b""


@asynccontextmanager
async def open_accounts(
    sessions: async_sessionmaker[AsyncSession], redis: aioredis.Redis, *, box: SecretBox, **options: Any
) -> AsyncIterator[AccountDirectory]:
    """Yield a started directory; it stops following changes on exit."""
    directory = AccountDirectory(sessions, redis, box=box, **options)
    try:
        await directory.start()
        yield directory
    finally:
        await directory.aclose()
