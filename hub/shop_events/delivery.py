"""Deliver the outbox's events to each shop's webhook: signed, claimed by one worker at a time, retried, dead-lettered.

Delivery is at least once: a worker that dies after the shop answered but before it recorded the answer leaves the
event to be sent again when its claim lapses, so the shop deduplicates on the event's id (`X-Hub-Event-Id`, the
body's `id`). Each try POSTs the event's JSON body with these headers:

    X-Hub-Event: return.requested
    X-Hub-Event-Id: 0f8c…                       (the body's `id`)
    X-Hub-Timestamp: 1767225600                 (unix seconds when this try was signed)
    X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of f"{timestamp}.{body}" under the shop's webhook secret>

The timestamp is part of what is signed, so a captured request cannot be replayed later with a fresh timestamp:
`verify_signature` refuses a signature older (or newer) than its tolerance. A 2xx answer delivers the event;
anything else (another status, a timeout, a refused connection) is retried after an exponential, jittered backoff
until `shop_webhook_max_attempts`, then the event is dead: on the dead-letter list until an operator replays it
(`hub events replay`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import random
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, cast

import httpcore
import httpx
import structlog
from redis.exceptions import RedisError
from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.audit.events import record
from hub.db import models as m
from hub.jobs import JobQueue
from hub.metrics import observe_shop_event_delivery
from hub.settings import Settings
from hub.shop_events import event_body
from hub.tenancy.admin import update_tenant_settings
from hub.tenancy.repository import TenantRepository
from hub.tenancy.secrets import derive_secret

log = structlog.get_logger(__name__)

DELIVER_TASK: Final = "shop_events.deliver"
"""The job that delivers one event: args (tenant id, event id), both as strings."""
EVENT_HEADER: Final = "X-Hub-Event"
EVENT_ID_HEADER: Final = "X-Hub-Event-Id"
TIMESTAMP_HEADER: Final = "X-Hub-Timestamp"
SIGNATURE_HEADER: Final = "X-Hub-Signature-256"
SIGNATURE_TOLERANCE_S: Final = 300
"""How far a signature's timestamp may be from the receiver's clock before `verify_signature` refuses it."""
LEASE_MARGIN_S: Final = 30.0
"""A claim outlasts the request's timeout by this much; a worker that died holding one frees it when it lapses."""
DUE_BATCH: Final = 200
"""Most events one sweep picks up; the rest wait for the next sweep."""
SWEEP_CONCURRENCY: Final = 16
"""Deliveries one sweep has in flight at once, so one slow shop does not hold up the others."""
SECRET_LENGTH: Final = 64
"""Hex characters in a shop's webhook secret: 256 bits."""

Outcome = Literal["delivered", "failed", "dead", "skipped"]
"""How one try ended: `failed` is retried later; `dead` had no tries left."""


# --- the shop's secret and the signature --------------------------------------------------------------------------


def webhook_secret(secret_key: str, tenant: m.Tenant) -> str:
    """Return the secret that signs `tenant`'s events.

    It is derived (HMAC-SHA256) from the instance's `HUB_SECRET_KEY`, the tenant's id and the tenant's
    `webhook_secret_version`, so nothing secret is stored: a database dump alone cannot forge events, each shop's
    secret says nothing about another's, and rotating is counting the version up (`rotate_webhook_secret`), which
    retires the old secret at once. Changing `HUB_SECRET_KEY` changes every shop's secret, as it changes every
    other secret derived from it.
    """
    version = int((tenant.settings or {}).get("webhook_secret_version") or 1)
    return derive_secret(secret_key, f"shop-webhook:{tenant.id}:v{version}", SECRET_LENGTH)


async def rotate_webhook_secret(session: AsyncSession, secret_key: str, tenant: m.Tenant, *, actor: str) -> str:
    """Retire `tenant`'s webhook secret for a new one (audited) and return the new one; the caller commits.

    Events signed from then on use the new secret only: the shop changes its receiver at the same time, and events
    it refused meanwhile are retried (or replayed from the dead-letter list)."""
    version = int((tenant.settings or {}).get("webhook_secret_version") or 1)
    await update_tenant_settings(session, tenant, {"webhook_secret_version": version + 1}, actor=actor)
    return webhook_secret(secret_key, tenant)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the `X-Hub-Signature-256` value of `body` sent at `timestamp` (unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    header: str,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
    *,
    now: float | None = None,
) -> bool:
    """Say whether `header` (`X-Hub-Signature-256`) signs `body` and `timestamp` (`X-Hub-Timestamp`) under `secret`,
    and the timestamp is within `tolerance_s` of `now` (default: this machine's clock).

    Check the raw body as received, before parsing it: the signature covers its exact bytes. The comparison takes
    the same time whatever the header holds, so a forger learns nothing from timing.
    """
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, sent_at, body).encode(), header.strip().encode())


def encode_body(event: m.OutboxEvent) -> bytes:
    """The exact bytes the shop receives (and the signature covers)."""
    return json.dumps(event_body(event), separators=(",", ":"), ensure_ascii=False).encode()


def signed_headers(secret: str, event: m.OutboxEvent, body: bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers of one try: the event's type and id, when it was signed, and the signature."""
    at = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "User-Agent": "HUB-Webhooks/1",
        EVENT_HEADER: event.type,
        EVENT_ID_HEADER: str(event.id),
        TIMESTAMP_HEADER: str(at),
        SIGNATURE_HEADER: sign(secret, at, body),
    }


# --- delivering ---------------------------------------------------------------------------------------------------


def backoff_s(settings: Settings, attempts: int) -> float:
    """The wait after the `attempts`-th failed try: doubling from `shop_webhook_backoff_s`, capped at
    `shop_webhook_backoff_max_s`, then jittered down by up to half, so events that failed together spread out."""
    base = min(settings.shop_webhook_backoff_max_s, settings.shop_webhook_backoff_s * 2 ** max(attempts - 1, 0))
    return base * random.uniform(0.5, 1.0)


class PublicAddressesOnly(httpcore.AsyncNetworkBackend):
    """Connect only to public (globally routable) addresses: a shop's webhook URL must not reach the hosting
    network (its metadata service, databases, admin ports), by its name or after its DNS changes.

    The host is resolved here and the connection made to the address checked, so a name that resolves to a
    public address for a check and a private one for the connection (DNS rebinding) cannot slip through; TLS
    still verifies the certificate against the URL's host name, which httpcore passes separately.
    """

    def __init__(self) -> None:
        # httpcore declares a stand-in class for when anyio is missing, which is all a type checker sees
        self._inner = cast(httpcore.AsyncNetworkBackend, httpcore.AnyIOBackend())

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 — httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = [str(info[4][0]) for info in found]
        private = [a for a in addresses if not _public(a)]
        if private or not addresses:
            raise httpcore.ConnectError(
                f"{host} resolves to {private[0] if private else 'nothing'}, not a public address "
                "(HUB_SHOP_WEBHOOK_PRIVATE_OK allows it)"
            )
        return await self._inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 — httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("shop events go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.partition("%")[0])  # an IPv6 zone (fe80::1%eth0) is not part of the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over a connection pool that connects through `PublicAddressesOnly` (httpx takes no
    network backend, so the pool it builds, still without connections, is replaced)."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=PublicAddressesOnly()
        )


def open_client(settings: Settings) -> httpx.AsyncClient:
    """An HTTP client for deliveries: redirects are not followed (a shop gives its final URL), and outside
    development only public addresses are reached (`PublicAddressesOnly`)."""
    transport = None if settings.shop_webhook_private_allowed else _GuardedTransport()
    return httpx.AsyncClient(timeout=settings.shop_webhook_timeout_s, follow_redirects=False, transport=transport)


def _due(now: datetime) -> Any:
    return or_(m.OutboxEvent.next_attempt_at.is_(None), m.OutboxEvent.next_attempt_at <= now)


async def deliver_event(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    client: httpx.AsyncClient,
    tenant_id: uuid.UUID,
    event_id: uuid.UUID,
) -> Outcome | None:
    """Try to deliver one pending event whose time has come; return how the try ended, or None when the event is
    not this call's to send (not pending, not due yet, another worker holds it, or another tenant's).

    The event is claimed first, in a committed UPDATE that moves `next_attempt_at` past the request's timeout, so
    two workers never send it at once (on SQLite and Postgres alike); the answer is recorded in a second
    transaction."""
    now = datetime.now(UTC)
    lease_until = now + timedelta(seconds=settings.shop_webhook_timeout_s + LEASE_MARGIN_S)
    async with sessions() as session:
        claim = update(m.OutboxEvent).where(
            m.OutboxEvent.id == event_id,
            m.OutboxEvent.tenant_id == tenant_id,
            m.OutboxEvent.status == m.EventStatus.PENDING,
            _due(now),
        )
        done = cast(
            CursorResult[Any],
            await session.execute(
                claim.values(next_attempt_at=lease_until).execution_options(synchronize_session=False)
            ),
        )
        if done.rowcount != 1:
            await session.rollback()
            return None
        event = (await session.execute(select(m.OutboxEvent).where(m.OutboxEvent.id == event_id))).scalar_one()
        tenant = await session.get(m.Tenant, tenant_id)
        url = (tenant.settings or {}).get("webhook_url") if tenant is not None else None
        if tenant is None or not tenant.active or not url:
            event.status = m.EventStatus.SKIPPED
            event.next_attempt_at = None
            event.last_error = "no webhook URL" if tenant is not None and tenant.active else "the shop is inactive"
            await session.commit()
            return _observed("skipped", event)
        await session.commit()
    body = encode_body(event)
    headers = signed_headers(webhook_secret(settings.secret_key.get_secret_value(), tenant), event, body)
    error = await _post(client, str(url), body, headers)
    return await _record_try(sessions, settings, event, error)


async def _post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> str | None:
    """POST one try; return None on a 2xx answer, else a short reason (the status, or the exception)."""
    try:
        # Streamed and left unread: only the status matters, and a shop's answer may be large.
        async with client.stream("POST", url, content=body, headers=headers) as response:
            if response.is_success:
                return None
            return f"HTTP {response.status_code}"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        # Counted as a failed try like any other, so a URL that can never work ends on the dead-letter list.
        return (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)[:500]


async def _record_try(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, event: m.OutboxEvent, error: str | None
) -> Outcome:
    now = datetime.now(UTC)
    attempts = event.attempts + 1
    values: dict[str, Any]
    outcome: Outcome
    if error is None:
        outcome = "delivered"
        values = {"status": m.EventStatus.DELIVERED, "delivered_at": now, "next_attempt_at": None, "last_error": None}
    elif attempts >= settings.shop_webhook_max_attempts:
        outcome = "dead"
        values = {"status": m.EventStatus.DEAD, "next_attempt_at": None, "last_error": error}
    else:
        outcome = "failed"
        retry_at = now + timedelta(seconds=backoff_s(settings, attempts))
        values = {"next_attempt_at": retry_at, "last_error": error}
    async with sessions() as session:
        # Only over this try's claim: a worker whose claim lapsed must not overwrite the try that followed it.
        await session.execute(
            update(m.OutboxEvent)
            .where(
                m.OutboxEvent.id == event.id,
                m.OutboxEvent.status == m.EventStatus.PENDING,
                m.OutboxEvent.attempts == event.attempts,
            )
            .values(attempts=attempts, **values)
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    log.info(
        "shop_event_delivery",
        tenant_id=str(event.tenant_id),
        event_id=str(event.id),
        type=event.type,
        outcome=outcome,
        attempts=attempts,
        error=error,
    )
    return _observed(outcome, event)


def _observed(outcome: Outcome, event: m.OutboxEvent) -> Outcome:
    observe_shop_event_delivery(outcome)
    if outcome == "skipped":
        log.info("shop_event_skipped", tenant_id=str(event.tenant_id), event_id=str(event.id), reason=event.last_error)
    return outcome


async def deliver_due(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    client: httpx.AsyncClient,
    *,
    limit: int = DUE_BATCH,
) -> Counter[Outcome]:
    """Try every pending event that is due, of every tenant, oldest due first (up to `limit`); count the outcomes.

    What the sweeper runs: it sends what an enqueue after commit never asked for (lost, or no queue), retries
    failures as they fall due, and takes over events whose worker died holding them."""
    now = datetime.now(UTC)
    async with sessions() as session:
        due = (
            await session.execute(
                select(m.OutboxEvent.tenant_id, m.OutboxEvent.id)
                .where(m.OutboxEvent.status == m.EventStatus.PENDING, _due(now))
                .order_by(m.OutboxEvent.next_attempt_at)
                .limit(limit)
            )
        ).all()
    gate = asyncio.Semaphore(SWEEP_CONCURRENCY)

    async def one(tenant_id: uuid.UUID, event_id: uuid.UUID) -> Outcome | None:
        async with gate:
            return await deliver_event(sessions, settings, client, tenant_id, event_id)

    outcomes = await asyncio.gather(*(one(tenant_id, event_id) for tenant_id, event_id in due))
    return Counter(o for o in outcomes if o is not None)


async def deliver_soon(jobs: JobQueue | None, tenant_id: uuid.UUID, event_ids: Sequence[uuid.UUID]) -> None:
    """Ask a worker to deliver these events now; call after committing the transaction that emitted them.

    Never raises for the queue: without one (`jobs` None) or with Redis unreachable, the sweeper delivers them
    within `shop_webhook_sweep_s`."""
    if jobs is None:
        return
    try:
        for event_id in event_ids:
            await jobs.enqueue(DELIVER_TASK, str(tenant_id), str(event_id), priority="high")
    except (RedisError, OSError) as exc:
        log.warning("shop_event_enqueue_failed", tenant_id=str(tenant_id), error=repr(exc))


# --- the outbox as operators see it -------------------------------------------------------------------------------


class OutboxEvents(TenantRepository[m.OutboxEvent]):
    """One tenant's shop events."""

    model = m.OutboxEvent


async def list_events(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    status: m.EventStatus | None = None,
    type_: str | None = None,
    limit: int = 50,
) -> list[m.OutboxEvent]:
    """Return the tenant's events, newest first, narrowed to one status and one type when given."""
    where = [
        *([m.OutboxEvent.status == status] if status is not None else []),
        *([m.OutboxEvent.type == type_] if type_ is not None else []),
    ]
    return await OutboxEvents(session, tenant_id).list(
        *where, order_by=[m.OutboxEvent.created_at.desc(), m.OutboxEvent.id], limit=limit
    )


@dataclass(frozen=True, slots=True)
class Replayed:
    """What `replay` did."""

    replayed: list[uuid.UUID]
    """Events sent back to pending, due now."""
    pending: list[uuid.UUID]
    """Named events that were still pending: left as they are."""
    unknown: list[uuid.UUID]
    """Named events this tenant does not have; nothing was changed when there are any."""


REPLAYABLE: Final = (m.EventStatus.DEAD, m.EventStatus.DELIVERED, m.EventStatus.SKIPPED)
"""What an event named by id may be replayed from (a shop that lost what it was sent, or has a webhook URL now)."""


async def replay(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    event_ids: Sequence[uuid.UUID] = (),
    *,
    all_dead: bool = False,
    actor: str,
) -> Replayed:
    """Send events back to pending with their attempts reset, due now: the named ones (dead, delivered or skipped),
    or with `all_dead` every dead one of the tenant; audited. The caller commits (nothing changes when a named
    event is unknown) and may then `deliver_soon`."""
    if bool(event_ids) == all_dead:
        raise ValueError("replay names events or asks for all dead ones, not both or neither")
    events = OutboxEvents(session, tenant_id)
    if all_dead:
        chosen = await events.list(m.OutboxEvent.status == m.EventStatus.DEAD, order_by=[m.OutboxEvent.created_at])
        pending: list[uuid.UUID] = []
    else:
        wanted = list(dict.fromkeys(event_ids))
        found = {e.id: e for e in await events.list(m.OutboxEvent.id.in_(wanted))}
        unknown = [i for i in wanted if i not in found]
        if unknown:
            return Replayed(replayed=[], pending=[], unknown=unknown)
        chosen = [found[i] for i in wanted if found[i].status in REPLAYABLE]
        pending = [i for i in wanted if found[i].status == m.EventStatus.PENDING]
    now = datetime.now(UTC)
    for event in chosen:
        event.status = m.EventStatus.PENDING
        event.attempts = 0
        event.next_attempt_at = now
        event.last_error = None
        event.delivered_at = None
    if chosen:
        await record(
            session,
            tenant_id=tenant_id,
            actor=actor,
            action="shop_events.replayed",
            data={"events": [str(e.id) for e in chosen], "all_dead": all_dead},
        )
    return Replayed(replayed=[e.id for e in chosen], pending=pending, unknown=[])
