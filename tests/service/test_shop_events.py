"""The shop's systems hear about returns and cancellations: events leave the outbox for the shop's webhook, signed,
once, retried with backoff while it fails, dead-lettered when it never answers, and replayed from the CLI.

The shop here is a real HTTP server on 127.0.0.1 that checks each request's signature with `verify_signature` (as a
shop's receiver would) and answers as the test scripts it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from hub.db import models as m
from hub.db.engine import session_factory
from hub.jobs import JobQueue
from hub.redis_conn import create_redis
from hub.settings import Settings
from hub.shop_events import emit, event_body
from hub.shop_events.delivery import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    deliver_due,
    deliver_event,
    deliver_soon,
    encode_body,
    list_events,
    open_client,
    replay,
    rotate_webhook_secret,
    sign,
    signed_headers,
    verify_signature,
    webhook_secret,
)
from hub.shop_events.schedule import delivery_sweeper
from hub.tenancy import admin
from service.cli.main import app as cli
from service.workers import host, worker_queue

pytestmark = pytest.mark.timeout(60)


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    status: int
    at: float
    """time.monotonic() when it arrived."""


@dataclass
class ShopReceiver:
    """A shop's webhook endpoint: refuses a bad signature with 401, else answers the next scripted status (200 once
    the script is used up, or `always` when set); `delay_s` holds each answer back."""

    secret: str = ""
    always: int | None = None
    delay_s: float = 0.0
    _script: deque[int] = field(default_factory=deque)
    _received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/hub"

    def answer(self, *statuses: int) -> None:
        with self._lock:
            self._script.extend(statuses)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    async def wait_for_accepted(self, count: int, *, within_s: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + within_s
        while len(accepted := self.accepted) < count:
            assert time.monotonic() < deadline, f"expected {count} accepted events, got {self.received}"
            await asyncio.sleep(0.05)
        return accepted

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        headers = dict(handler.headers.items())
        verified = verify_signature(
            self.secret, headers.get(TIMESTAMP_HEADER, ""), body, headers.get(SIGNATURE_HEADER, "")
        )
        with self._lock:
            status = 401 if not verified else (self._script.popleft() if self._script else self.always or 200)
            self._received.append(Received(headers, body, verified, status, time.monotonic()))
        time.sleep(self.delay_s)
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def __enter__(self) -> Self:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="shop-receiver", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


@dataclass
class Outbox:
    """One shop with its webhook pointed at the receiver, and the delivery code as a worker runs it."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    client: httpx.AsyncClient
    receiver: ShopReceiver
    tenant: m.Tenant

    async def emit(self, tenant_id: uuid.UUID | None = None, type_: str = "return.requested") -> uuid.UUID:
        async with self.sessions() as session:
            event = emit(session, tenant_id or self.tenant.id, type_, {"order": "A-10001", "items": [{"sku": "TEE-1"}]})
            await session.commit()
            return event.id

    async def event(self, event_id: uuid.UUID) -> m.OutboxEvent:
        async with self.sessions() as session:
            found = await session.get(m.OutboxEvent, event_id)
            assert found is not None
            return found

    async def sweep(self) -> dict[str, int]:
        return dict(await deliver_due(self.sessions, self.settings, self.client))

    async def sweep_until(self, status: m.EventStatus, event_id: uuid.UUID, *, within_s: float = 10.0) -> None:
        """Sweep as a worker would, until the event reaches `status` (its retries fall due meanwhile)."""
        deadline = time.monotonic() + within_s
        while (await self.event(event_id)).status != status:
            assert time.monotonic() < deadline, await self.event(event_id)
            await self.sweep()
            await asyncio.sleep(0.02)


def outbox_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    tiny: dict[str, Any] = {
        "shop_webhook_timeout_s": 5.0,
        "shop_webhook_backoff_s": 0.2,
        "shop_webhook_backoff_max_s": 0.4,
        "shop_webhook_max_attempts": 3,
        "shop_webhook_sweep_s": 0.1,
    }
    return Settings(data_dir=tmp_path / "data", database_url=database_url, **{**tiny, **overrides})


async def make_tenant(session: AsyncSession, slug: str, webhook_url: str | None) -> m.Tenant:
    tenant = await admin.create_tenant(session, name=slug.title(), slug=slug)
    if webhook_url is not None:
        await admin.update_tenant_settings(session, tenant, {"webhook_url": webhook_url})
    await session.commit()
    return tenant


@pytest.fixture
async def outbox(
    tmp_path: Path, migrated_url: str, engine: AsyncEngine, session: AsyncSession
) -> AsyncIterator[Outbox]:
    settings = outbox_settings(tmp_path, migrated_url)
    with ShopReceiver() as receiver:
        tenant = await make_tenant(session, "harbour", receiver.url)
        receiver.secret = webhook_secret(settings.secret_key.get_secret_value(), tenant)
        async with open_client(settings) as client:
            yield Outbox(settings, session_factory(engine), client, receiver, tenant)


async def test_an_event_is_delivered_once_with_a_valid_signature_and_the_exact_body(outbox: Outbox) -> None:
    event_id = await outbox.emit(type_="order.cancel_requested")

    assert await outbox.sweep() == {"delivered": 1}
    assert await outbox.sweep() == {}

    [got] = outbox.receiver.received
    event = await outbox.event(event_id)
    assert got.verified and got.status == 200
    assert got.body == encode_body(event)
    assert json.loads(got.body) == event_body(event)
    assert json.loads(got.body)["data"] == {"order": "A-10001", "items": [{"sku": "TEE-1"}]}
    assert got.headers["X-Hub-Event"] == "order.cancel_requested"
    assert got.headers["X-Hub-Event-Id"] == str(event_id)
    assert abs(int(got.headers["X-Hub-Timestamp"]) - time.time()) < 5
    assert got.headers["X-Hub-Signature-256"].startswith("sha256=")
    assert (event.status, event.attempts, event.last_error) == (m.EventStatus.DELIVERED, 1, None)
    assert event.delivered_at is not None and event.next_attempt_at is None


async def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(outbox: Outbox) -> None:
    outbox.receiver.answer(500, 500)
    event_id = await outbox.emit()

    assert await outbox.sweep() == {"failed": 1}
    after_first = await outbox.event(event_id)
    assert (after_first.status, after_first.attempts, after_first.last_error) == (m.EventStatus.PENDING, 1, "HTTP 500")
    assert await outbox.sweep() == {}, "a retry waits for its backoff"

    await outbox.sweep_until(m.EventStatus.DELIVERED, event_id)

    event = await outbox.event(event_id)
    assert (event.attempts, event.last_error) == (3, None)
    tries = outbox.receiver.received
    assert [t.status for t in tries] == [500, 500, 200]
    assert len({t.headers["X-Hub-Event-Id"] for t in tries}) == 1
    # 0.2 s then 0.4 s (capped), each jittered down by at most half.
    assert tries[1].at - tries[0].at >= 0.1
    assert tries[2].at - tries[1].at >= 0.2


def run_hub(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


async def hub(*args: str) -> tuple[int, str, str]:
    """Run a `hub` command as a shell would: on its own thread (it runs its own event loop)."""
    return await asyncio.to_thread(run_hub, *args)


async def test_an_event_that_always_fails_is_dead_until_replayed_from_the_cli(
    outbox: Outbox, cli_settings: Settings
) -> None:
    outbox.receiver.always = 503
    event_id = await outbox.emit()
    await outbox.sweep_until(m.EventStatus.DEAD, event_id)
    assert [r.status for r in outbox.receiver.received] == [503, 503, 503]

    code, out, err = await hub("events", "list", "--tenant", "harbour", "--status", "dead", "--json")
    assert code == 0, err
    [listed] = json.loads(out.splitlines()[-1])["events"]
    assert (listed["id"], listed["status"], listed["attempts"], listed["last_error"]) == (
        str(event_id),
        "dead",
        3,
        "HTTP 503",
    )
    code, out, _ = await hub("events", "list", "--tenant", "harbour", "--status", "delivered", "--json")
    assert json.loads(out.splitlines()[-1]) == {"events": []}

    outbox.receiver.always = None
    code, out, err = await hub("events", "replay", "--tenant", "harbour", "--dead")
    assert code == 0 and "replayed 1 event" in out, err
    assert await outbox.sweep() == {"delivered": 1}
    event = await outbox.event(event_id)
    assert (event.status, event.attempts) == (m.EventStatus.DELIVERED, 1)
    assert len(outbox.receiver.accepted) == 1

    code, out, err = await hub("events", "replay", "--tenant", "harbour", str(event_id), "--json")
    assert code == 0 and json.loads(out.splitlines()[-1])["replayed"] == [str(event_id)], err
    assert await outbox.sweep() == {"delivered": 1}
    async with outbox.sessions() as session:
        audited = (
            await session.execute(select(m.AuditEvent).where(m.AuditEvent.action == "shop_events.replayed"))
        ).scalars()
        assert [a.data["events"] for a in audited] == [[str(event_id)], [str(event_id)]]


async def test_without_a_webhook_url_or_an_active_shop_events_are_skipped(
    outbox: Outbox, session: AsyncSession
) -> None:
    quiet = await make_tenant(session, "quiet", None)
    unsent = await outbox.emit(quiet.id)
    outbox.tenant.active = False
    await session.commit()
    closed = await outbox.emit()

    assert await outbox.sweep() == {"skipped": 2}

    assert outbox.receiver.received == []
    assert (await outbox.event(unsent)).status == m.EventStatus.SKIPPED
    assert (await outbox.event(unsent)).last_error == "no webhook URL"
    assert (await outbox.event(closed)).last_error == "the shop is inactive"


async def test_a_tampered_body_a_wrong_secret_or_an_old_timestamp_fails_verification(
    outbox: Outbox, session: AsyncSession
) -> None:
    secret = outbox.receiver.secret
    event_id = await outbox.emit()
    event = await outbox.event(event_id)
    body = encode_body(event)
    headers = signed_headers(secret, event, body)
    now = int(headers[TIMESTAMP_HEADER])
    assert verify_signature(secret, now, body, headers[SIGNATURE_HEADER])
    assert not verify_signature("another shop's secret", now, body, headers[SIGNATURE_HEADER])
    assert not verify_signature(secret, now, body.replace(b"A-10001", b"A-10002"), headers[SIGNATURE_HEADER])
    assert not verify_signature(secret, now + 1, body, headers[SIGNATURE_HEADER]), "the timestamp is signed"
    stale = now - 600
    assert not verify_signature(secret, stale, body, sign(secret, stale, body)), "a replay from 10 minutes ago"
    assert verify_signature(secret, stale, body, sign(secret, stale, body), tolerance_s=900)

    tampered = await outbox.client.post(
        outbox.receiver.url, content=body.replace(b"return.requested", b"order.cancelled"), headers=headers
    )
    assert tampered.status_code == 401

    # The shop rotated its secret in HUB but its receiver still holds the old one: refused, then retried.
    tenant = await session.get(m.Tenant, outbox.tenant.id)
    assert tenant is not None
    fresh = await rotate_webhook_secret(session, outbox.settings.secret_key.get_secret_value(), tenant, actor="test")
    await session.commit()
    assert fresh != secret and fresh == webhook_secret(outbox.settings.secret_key.get_secret_value(), tenant)
    assert await outbox.sweep() == {"failed": 1}
    assert (await outbox.event(event_id)).last_error == "HTTP 401"
    outbox.receiver.secret = fresh
    await outbox.sweep_until(m.EventStatus.DELIVERED, event_id)


async def test_two_workers_delivering_one_event_at_once_send_it_once(outbox: Outbox) -> None:
    outbox.receiver.delay_s = 0.3
    event_id = await outbox.emit()

    *workers, swept = await asyncio.gather(
        *(deliver_event(outbox.sessions, outbox.settings, outbox.client, outbox.tenant.id, event_id) for _ in range(2)),
        outbox.sweep(),
    )

    assert workers.count("delivered") + swept.get("delivered", 0) == 1
    assert workers.count(None) + (swept == {}) == 2, "the others found it claimed"
    assert len(outbox.receiver.received) == 1
    assert (await outbox.event(event_id)).attempts == 1


async def test_one_tenants_list_and_replay_never_touch_another_tenants_events(
    outbox: Outbox, session: AsyncSession, cli_settings: Settings
) -> None:
    other = await make_tenant(session, "bravo", outbox.receiver.url)
    outbox.receiver.always = 500
    mine, theirs = await outbox.emit(), await outbox.emit(other.id)
    await outbox.sweep_until(m.EventStatus.DEAD, mine)
    await outbox.sweep_until(m.EventStatus.DEAD, theirs)

    assert [e.id for e in await list_events(session, outbox.tenant.id)] == [mine]
    assert [e.id for e in await list_events(session, other.id, status=m.EventStatus.DEAD)] == [theirs]

    refused = await replay(session, outbox.tenant.id, [theirs], actor="test")
    assert (refused.replayed, refused.unknown) == ([], [theirs])
    done = await replay(session, outbox.tenant.id, all_dead=True, actor="test")
    await session.commit()
    assert done.replayed == [mine]
    assert (await outbox.event(theirs)).status == m.EventStatus.DEAD
    assert (await outbox.event(mine)).status == m.EventStatus.PENDING

    code, _, err = await hub("events", "replay", "--tenant", "harbour", str(theirs))
    assert code == 1 and f"has no event {theirs}" in err
    code, out, _ = await hub("events", "list", "--tenant", "harbour", "--json")
    assert [e["id"] for e in json.loads(out.splitlines()[-1])["events"]] == [str(mine)]


@pytest.mark.service
async def test_the_job_queue_delivers_what_deliver_soon_asks_for_and_the_sweeper_the_rest(
    tmp_path: Path, migrated_url: str, engine: AsyncEngine, session: AsyncSession, redis_url: str
) -> None:
    settings = outbox_settings(tmp_path, migrated_url, redis_url=redis_url, shop_webhook_sweep_s=0.2)
    sessions = session_factory(engine)
    with ShopReceiver() as receiver:
        tenant = await make_tenant(session, "harbour", receiver.url)
        receiver.secret = webhook_secret(settings.secret_key.get_secret_value(), tenant)
        stop = asyncio.Event()
        worker = asyncio.create_task(host(worker_queue(settings), stop))
        try:
            async with sessions() as s:
                asked = emit(s, tenant.id, "return.approved", {"order": "A-1"}).id
                await s.commit()
            async with JobQueue(settings) as jobs:
                await deliver_soon(jobs, tenant.id, [asked])
            [got] = await receiver.wait_for_accepted(1)
            assert got.headers["X-Hub-Event-Id"] == str(asked)
        finally:
            stop.set()
            await worker

        redis = create_redis(redis_url)
        sweeper = asyncio.create_task(delivery_sweeper(settings, redis, stop := asyncio.Event()))
        try:
            async with sessions() as s:
                forgotten = emit(s, tenant.id, "return.denied", {"order": "A-2"}).id
                await s.commit()
            await deliver_soon(None, tenant.id, [forgotten])
            accepted = await receiver.wait_for_accepted(2)
            assert accepted[1].headers["X-Hub-Event-Id"] == str(forgotten)
        finally:
            stop.set()
            await sweeper
            await redis.aclose()
    assert len(receiver.received) == 2


async def test_the_cli_points_the_webhook_and_shows_and_rotates_its_secret(
    migrated_url: str, cli_settings: Settings
) -> None:
    assert (await hub("tenants", "create", "--name", "Harbour", "--slug", "harbour"))[0] == 0
    code, out, err = await hub("tenants", "set", "harbour", "--webhook-url", "https://harbour.example/hooks/hub")
    assert code == 0 and "webhook_url none → https://harbour.example/hooks/hub" in out, err
    code, _, err = await hub("tenants", "set", "harbour", "--webhook-url", "ftp://harbour.example")
    assert code == 1 and "webhook_url" in err

    code, out, err = await hub("tenants", "webhook-secret", "--tenant", "harbour")
    secret = out.splitlines()[-1]
    assert code == 0 and len(secret) == 64, err
    assert (await hub("tenants", "webhook-secret", "--tenant", "harbour"))[1].splitlines()[-1] == secret
    code, out, err = await hub("tenants", "webhook-secret", "--tenant", "harbour", "--rotate")
    rotated = out.splitlines()[-1]
    assert code == 0 and rotated != secret and len(rotated) == 64, err
    assert (await hub("tenants", "webhook-secret", "--tenant", "harbour"))[1].splitlines()[-1] == rotated

    code, out, err = await hub("tenants", "set", "harbour", "--no-webhook")
    assert code == 0 and "webhook_url https://harbour.example/hooks/hub → none" in out, err


async def test_an_unreachable_webhook_is_a_failed_try_that_ends_dead(outbox: Outbox, session: AsyncSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    await admin.update_tenant_settings(session, outbox.tenant, {"webhook_url": f"http://127.0.0.1:{closed_port}/"})
    await session.commit()
    event_id = await outbox.emit()

    assert await outbox.sweep() == {"failed": 1}
    error = (await outbox.event(event_id)).last_error
    assert error is not None and error.startswith("ConnectError"), error
    await outbox.sweep_until(m.EventStatus.DEAD, event_id)
    assert (await outbox.event(event_id)).attempts == 3


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"])
async def test_in_production_a_webhook_on_the_hosting_network_is_never_reached(
    outbox: Outbox, session: AsyncSession, host: str
) -> None:
    """A shop's webhook URL naming a loopback, private or link-local address (directly, by a name or as an IPv4
    address inside IPv6) gets no request from production: each try fails saying why, and the event ends dead."""
    port = outbox.receiver.url.split(":")[2].split("/")[0]
    await admin.update_tenant_settings(session, outbox.tenant, {"webhook_url": f"http://{host}:{port}/hook"})
    await session.commit()
    production = outbox.settings.model_copy(update={"shop_webhook_private_ok": False})
    event_id = await outbox.emit()
    async with open_client(production) as client:
        assert dict(await deliver_due(outbox.sessions, production, client)) == {"failed": 1}
    error = (await outbox.event(event_id)).last_error
    assert error is not None and "not a public address" in error and "HUB_SHOP_WEBHOOK_PRIVATE_OK" in error, error
    assert outbox.receiver.received == []


async def test_the_production_guard_connects_to_the_public_address_it_checked() -> None:
    """What the guard lets through, it connects to by the address it resolved and checked (no second lookup that
    DNS could answer differently); cloud metadata and private ranges are refused."""
    from hub.shop_events.delivery import PublicAddressesOnly

    dialled: list[tuple[str, int]] = []

    class Dialler(PublicAddressesOnly):
        def __init__(self) -> None:
            super().__init__()

            class Recorder:
                async def connect_tcp(self, host: str, port: int, *args: Any) -> Any:
                    dialled.append((host, port))
                    return None

            self._inner = Recorder()  # type: ignore[assignment]

    guard = Dialler()
    await guard.connect_tcp("8.8.8.8", 443)
    assert dialled == [("8.8.8.8", 443)]
    import httpcore

    for refused in ("169.254.169.254", "10.1.2.3", "192.168.0.10", "100.64.0.1", "::1", "fd00::1", "0.0.0.0"):
        with pytest.raises(httpcore.ConnectError, match="not a public address"):
            await guard.connect_tcp(refused, 80)
    assert dialled == [("8.8.8.8", 443)]
