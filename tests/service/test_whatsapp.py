"""The WhatsApp channel end to end: signed webhooks in, turns in a job worker, sends to a fake Graph API.

Runs on SQLite and Postgres. Webhook bodies start from Meta's reference payloads in the shared fixtures folder
(`HUB_TEST_WHATSAPP_FIXTURES`), adapted per test.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
import structlog
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from chat_ui import handoff
from chat_ui.whatsapp.accounts import AccountDirectory, open_accounts
from chat_ui.whatsapp.constants import ACCOUNTS, CONVERSATION_LOCK
from chat_ui.whatsapp.events import StatusUpdate
from chat_ui.whatsapp.graph_api import open_graph_api
from chat_ui.whatsapp.outbox import CALLBACK_KEY, MAX_TEXT, deliver_pending, plan, split_text
from chat_ui.whatsapp.statuses import StatusLedger
from hub.db import models as m
from hub.db.engine import session_factory
from hub.encryption import SecretBox
from hub.jobs import JobResources
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from service.app import create_app
from service.workers import host, worker_queue
from tests.conftest import services_required
from tests.fake_graph_api import FakeGraphApi
from tests.job_tasks import record_enqueues

_SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "whatsapp"
"""`../shared/fixtures/whatsapp` next to the checkout: Meta's wire shapes, read from there, never copied in."""
FIXTURES = Path(
    os.environ.get(
        "HUB_TEST_WHATSAPP_FIXTURES", _SHARED if _SHARED.is_dir() else Path("/work/shared/fixtures/whatsapp")
    )
)
SHOPPER = "15550009876"
"""A WhatsApp number no demo customer has."""

pytestmark = pytest.mark.timeout(60)


def load(name: str) -> dict[str, Any]:
    """One of Meta's reference webhook payloads, read from the shared fixtures (never copied into the repo)."""
    path = FIXTURES / f"{name}.json"
    if not path.is_file():
        message = f"WhatsApp fixture {path} is missing (set HUB_TEST_WHATSAPP_FIXTURES)"
        if services_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return json.loads(path.read_text())


def _value(payload: dict[str, Any]) -> dict[str, Any]:
    return payload["entry"][0]["changes"][0]["value"]


def inbound(
    demo: DemoCredentials,
    fixture: str = "text_message",
    *,
    wa_id: str = SHOPPER,
    message_id: str | None = None,
    sent_at: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A one-message webhook to the demo shop's number, from `wa_id`, built from `fixture`; `fields` replace the
    message's own (e.g. `text={"body": "hi"}`)."""
    payload = load(fixture)
    value = _value(payload)
    value["metadata"]["phone_number_id"] = demo.whatsapp_phone_number_id
    value["contacts"][0]["wa_id"] = wa_id
    message = value["messages"][0]
    message.update(
        {
            "from": wa_id,
            "id": message_id or f"wamid.IN{uuid.uuid4().hex}",
            "timestamp": str(int((sent_at or datetime.now(UTC)).timestamp())),
            **fields,
        }
    )
    return payload


def text(demo: DemoCredentials, body: str, **kwargs: Any) -> dict[str, Any]:
    return inbound(demo, text={"body": body}, **kwargs)


def status(demo: DemoCredentials, fixture: str, wamid: str, *, wa_id: str = SHOPPER, **fields: Any) -> dict[str, Any]:
    """A one-status webhook about our message `wamid`, built from `fixture`."""
    payload = load(fixture)
    value = _value(payload)
    value["metadata"]["phone_number_id"] = demo.whatsapp_phone_number_id
    value["statuses"][0].update({"id": wamid, "recipient_id": wa_id, **fields})
    return payload


def one_change(*payloads: dict[str, Any]) -> dict[str, Any]:
    """Put the messages of several one-message webhooks into the first one's single change, in order."""
    merged = copy.deepcopy(payloads[0])
    _value(merged)["messages"] = [message for p in payloads for message in _value(p)["messages"]]
    return merged


def entries(*payloads: dict[str, Any]) -> dict[str, Any]:
    """Batch several webhooks as entries of one."""
    merged = copy.deepcopy(payloads[0])
    merged["entry"] = [entry for p in payloads for entry in p["entry"]]
    return merged


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Channel:
    """The app with the WhatsApp router, its job workers, the fake Graph API and the database behind them."""

    client: httpx.AsyncClient
    app: FastAPI
    settings: Settings
    graph: FakeGraphApi
    demo: DemoCredentials
    sessions: async_sessionmaker[AsyncSession]
    task_ids: list[str] = field(default_factory=list)
    worker_accounts: list[AccountDirectory] = field(default_factory=list)
    workers: list[tuple[asyncio.Event, asyncio.Task[None]]] = field(default_factory=list)

    def start_worker(self) -> None:
        queue = worker_queue(self.settings)
        queue.provide("test_accounts", self._keep_accounts)
        stop = asyncio.Event()
        self.workers.append((stop, asyncio.create_task(host(queue, stop))))

    @asynccontextmanager
    async def _keep_accounts(self, resources: JobResources) -> AsyncIterator[None]:
        self.worker_accounts.append(resources.extra[ACCOUNTS])
        yield

    async def seen_everywhere(self, check: Callable[[AccountDirectory], bool], within_s: float = 5.0) -> None:
        """Wait until the app's and every worker's copy of the WhatsApp accounts passes `check` (a change reaches
        them by announcement, a moment after its commit)."""
        copies = [getattr(self.app.state, ACCOUNTS), *self.worker_accounts]
        async with asyncio.timeout(within_s):
            while not all(check(copy) for copy in copies):  # noqa: ASYNC110 — the copies reload in the background
                await asyncio.sleep(0.02)

    async def stop_workers(self) -> None:
        """Stop every worker; each closes what its lifespan opened."""
        for stop, _ in self.workers:
            stop.set()
        await asyncio.gather(*(task for _, task in self.workers))

    async def post(self, payload: dict[str, Any] | bytes, *, signature: str | None = None) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        return await self.client.post("/webhooks/whatsapp", content=body, headers=headers)

    async def deliver(self, payload: dict[str, Any]) -> int:
        """Post a webhook signed with the demo shop's app secret, as Meta would; return how many events it queued.

        The first delivery starts a worker (a test that sends nothing never starts one).
        """
        if not self.workers:
            self.start_worker()
        body = json.dumps(payload).encode()
        response = await self.post(body, signature=sign(body, self.demo.whatsapp_app_secret))
        assert response.status_code == 200, response.text
        return response.json()["received"]

    async def settled(self, within_s: float = 30.0) -> list[dict[str, int]]:
        """Wait for every job queued so far to finish; return their results in queueing order."""
        queue = self.app.state.resources.jobs
        results = []
        for task_id in list(self.task_ids):
            result = await queue.result(task_id, timeout_s=within_s)
            assert result.success, result.exception
            results.append(result.result)
        return results

    async def say(self, body: str, *, wa_id: str = SHOPPER, **kwargs: Any) -> None:
        await self.deliver(text(self.demo, body, wa_id=wa_id, **kwargs))
        await self.settled()

    async def messages(self, wa_id: str = SHOPPER) -> list[m.Message]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(m.Message)
                .join(m.Conversation, m.Conversation.id == m.Message.conversation_id)
                .where(m.Conversation.channel == m.Channel.WHATSAPP, m.Conversation.external_ref == wa_id)
                .order_by(m.Message.created_at)
            )
            return list(rows.scalars())

    async def deliveries(self, wa_id: str = SHOPPER) -> list[m.MessageDelivery]:
        async with self.sessions() as session:
            rows = await session.execute(
                select(m.MessageDelivery)
                .join(m.Conversation, m.Conversation.id == m.MessageDelivery.conversation_id)
                .where(m.Conversation.external_ref == wa_id)
                .order_by(m.MessageDelivery.created_at, m.MessageDelivery.seq)
            )
            return list(rows.scalars())

    async def conversation(self, wa_id: str = SHOPPER) -> m.Conversation:
        async with self.sessions() as session:
            return (
                await session.execute(select(m.Conversation).where(m.Conversation.external_ref == wa_id))
            ).scalar_one()

    async def account_config(self, **changes: Any) -> None:
        async with self.sessions() as session:
            account = (
                await session.execute(
                    select(m.ChannelAccount).where(m.ChannelAccount.external_id == self.demo.whatsapp_phone_number_id)
                )
            ).scalar_one()
            account.config = {k: v for k, v in {**account.config, **changes}.items() if v is not None}
            await session.commit()
        pnid = self.demo.whatsapp_phone_number_id
        await self.seen_everywhere(lambda copy: (a := copy.get(pnid)) is not None and dict(a.config) == account.config)


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphApi]:
    async with FakeGraphApi() as server:
        yield server


@pytest.fixture
def wa_settings(app_settings: Settings, graph: FakeGraphApi) -> Settings:
    return app_settings.model_copy(
        update={
            "whatsapp_api_base": graph.base_url,
            "whatsapp_max_attempts": 3,
            "whatsapp_backoff_s": 0.05,
            "whatsapp_backoff_max_s": 2.0,
        }
    )


@pytest.fixture
async def channel(
    wa_settings: Settings,
    engine: AsyncEngine,
    demo: DemoCredentials,
    graph: FakeGraphApi,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Channel]:
    app = create_app(wa_settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            harness = Channel(client, app, wa_settings, graph, demo, session_factory(engine))
            jobs = app.state.resources.jobs
            record_enqueues(jobs, harness.task_ids, monkeypatch)
            try:
                yield harness
            finally:
                await harness.stop_workers()


async def customer_with_phone(engine: AsyncEngine, demo: DemoCredentials) -> m.Customer:
    async with session_factory(engine)() as session:
        return (
            await session.execute(
                select(m.Customer)
                .where(m.Customer.tenant_id == uuid.UUID(demo.tenant_id), m.Customer.phone.is_not(None))
                .order_by(m.Customer.email)
                .limit(1)
            )
        ).scalar_one()


# --- handshake and signatures --------------------------------------------------------------------------


async def test_verification_handshake_echoes_the_challenge_only_for_a_known_token(channel: Channel) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": channel.demo.whatsapp_verify_token, "hub.challenge": "8127"}
    ok = await channel.client.get("/webhooks/whatsapp", params=query)
    assert ok.status_code == 200 and ok.text == "8127" and ok.headers["content-type"].startswith("text/plain")
    wrong_token = await channel.client.get("/webhooks/whatsapp", params={**query, "hub.verify_token": "guess"})
    wrong_mode = await channel.client.get("/webhooks/whatsapp", params={**query, "hub.mode": "unsubscribe"})
    assert wrong_token.status_code == 403 and wrong_mode.status_code == 403


async def test_unsigned_or_wrongly_signed_webhooks_are_refused_and_nothing_is_stored(channel: Channel) -> None:
    forged = json.dumps(text(channel.demo, "forged order request")).encode()
    missing = await channel.post(forged)
    wrong_secret = await channel.post(forged, signature=sign(forged, "not-the-app-secret"))
    other_body = await channel.post(forged, signature=sign(forged + b" ", channel.demo.whatsapp_app_secret))
    garbage = await channel.post(forged, signature="sha256=zz")
    assert missing.status_code == 401
    assert (wrong_secret.status_code, other_body.status_code, garbage.status_code) == (403, 403, 403)
    unknown_number = text(channel.demo, "hi")
    _value(unknown_number)["metadata"]["phone_number_id"] = "999999999999"
    raw = json.dumps(unknown_number).encode()
    assert (await channel.post(raw, signature=sign(raw, channel.demo.whatsapp_app_secret))).status_code == 403

    assert channel.task_ids == []
    await channel.say("hello")  # a valid message afterwards shows the worker ran and saw only that one
    stored = await channel.messages()
    assert [(r.role, r.content) for r in stored][:1] == [("customer", "hello")]
    assert len(stored) == 2 and len(channel.graph.sends) == 1
    async with channel.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(m.ProcessedWebhookEvent)) == 1


async def test_the_webhook_queues_the_work_and_answers_before_any_turn_runs(channel: Channel) -> None:
    payload = entries(text(channel.demo, "hello"), status(channel.demo, "status_sent", "wamid.EARLIER"))
    body = json.dumps(payload).encode()
    response = await channel.post(body, signature=sign(body, channel.demo.whatsapp_app_secret))
    assert response.status_code == 200 and response.json() == {"received": 2}
    assert len(channel.task_ids) == 1, "one job per customer, their events in order"
    assert await channel.messages() == [], "no worker yet: nothing is answered inline"
    channel.start_worker()
    assert await channel.settled() == [{"processed": 2, "duplicate": 0, "skipped": 0, "sent": 1}]
    assert len(channel.graph.sends) == 1


# --- inbound messages ----------------------------------------------------------------------------------


async def test_duplicate_webhook_is_processed_once_across_two_workers(channel: Channel) -> None:
    channel.start_worker()
    channel.start_worker()
    payload = text(channel.demo, "hello")
    received = await asyncio.gather(channel.deliver(payload), channel.deliver(payload))
    assert received == [1, 1]
    results = await channel.settled()
    assert sorted((r["processed"], r["duplicate"]) for r in results) == [(0, 1), (1, 0)]
    await channel.deliver(payload)  # Meta retries again after the reply went out
    assert (await channel.settled())[-1] == {"processed": 0, "duplicate": 1, "skipped": 0, "sent": 0}

    [send] = channel.graph.sends
    assert send.to == SHOPPER and send.phone_number_id == channel.demo.whatsapp_phone_number_id
    assert send.authorization.startswith("Bearer ") and len(send.authorization) > len("Bearer ")
    stored = await channel.messages()
    message_id = _value(payload)["messages"][0]["id"]
    assert [(r.role, r.external_id) for r in stored] == [("customer", message_id), ("assistant", None)]
    assert send.text == stored[1].content and stored[1].intent == "greeting"
    [delivery] = await channel.deliveries()
    assert (delivery.status, delivery.external_id, delivery.message_id) == ("sent", send.wamid, stored[1].id)
    conversation = await channel.conversation()
    assert conversation.customer_id is None and conversation.last_inbound_at is not None


async def test_images_buttons_lists_and_locations_are_answered_reactions_recorded_unsupported_declined(
    channel: Channel,
) -> None:
    demo = channel.demo
    image = inbound(demo, "image_message")
    _value(image)["messages"][0]["image"]["caption"] = "do you have this in blue?"
    button = inbound(demo, "interactive_button_reply")
    _value(button)["messages"][0]["interactive"]["button_reply"] = {"id": "track-order", "title": "Track my order"}
    listed = inbound(demo, "interactive_list_reply")
    _value(listed)["messages"][0]["interactive"]["list_reply"] = {"id": "cat-hoodies", "title": "Hoodies"}
    location = inbound(
        demo, type="location", location={"latitude": 51.5072, "longitude": -0.1276, "name": "Northwind HQ"}
    )
    reaction = inbound(demo, type="reaction", reaction={"message_id": "wamid.OURS", "emoji": "👍"})
    voice = inbound(demo, type="audio", audio={"id": "777", "mime_type": "audio/ogg"})
    uncaptioned = inbound(demo, "image_message")
    batch = one_change(image, button, listed, reaction, voice, uncaptioned, location)

    assert await channel.deliver(batch) == 7
    [result] = await channel.settled()
    assert result == {"processed": 7, "duplicate": 0, "skipped": 0, "sent": 6}

    stored = await channel.messages()
    inbound_rows = [r for r in stored if r.role == "customer"]
    assert [r.content for r in inbound_rows] == [
        "do you have this in blue?",
        "Track my order",
        "Hoodies",
        "👍",
        "[audio]",
        "[image]",
        "my location: 51.5072,-0.1276 Northwind HQ",
    ]
    assert [r.external_id for r in inbound_rows] == [_value(p)["messages"][0]["id"] for p in (image, button, listed,
        reaction, voice, uncaptioned, location)]  # fmt: skip
    assert inbound_rows[0].meta["whatsapp"]["media_id"] == "65463453"
    assert inbound_rows[1].meta["whatsapp"]["reply_id"] == "track-order"
    assert inbound_rows[2].meta["whatsapp"]["reply_id"] == "cat-hoodies"
    assert inbound_rows[3].meta["whatsapp"]["reacted_to"] == "wamid.OURS"
    assert inbound_rows[6].meta["whatsapp"]["latitude"] == 51.5072
    answered = ["customer", "assistant"]
    assert [r.role for r in stored] == answered * 3 + ["customer"] + answered * 3, "a reaction gets no reply"
    replies = [s.text or "" for s in channel.graph.sends]
    assert len(replies) == 6 and replies == [r.content for r in stored if r.role == "assistant"]
    assert "voice messages" in replies[3] and "photos with a caption" in replies[3]
    assert "photo" in replies[4] and "few words" in replies[4]


async def test_a_handed_off_conversation_is_recorded_but_not_answered_by_the_bot(channel: Channel) -> None:
    await channel.say("can I talk to a human please")
    assert (await channel.conversation()).status == m.ConversationStatus.HUMAN
    sends_before = len(channel.graph.sends)
    await channel.say("hello? is anyone there?")
    assert len(channel.graph.sends) == sends_before
    last = (await channel.messages())[-1]
    assert (last.role, last.content) == ("customer", "hello? is anyone there?") and last.external_id


async def test_a_person_answers_a_handed_off_customer_on_whatsapp_from_the_console(channel: Channel) -> None:
    await channel.say("can I talk to a human please")
    conversation = await channel.conversation()
    sends_before = len(channel.graph.sends)
    async with channel.sessions() as session:
        message = await handoff.reply_as_human(
            session,
            channel.app.state.resources.jobs,
            uuid.UUID(channel.demo.tenant_id),
            conversation.id,
            "Hi, this is Sam from the shop. How can I help?",
            operator="operator:sam@shop",
        )
    await channel.settled()
    sent = channel.graph.sends[sends_before:]
    assert [(s.to, s.text) for s in sent] == [(SHOPPER, "Hi, this is Sam from the shop. How can I help?")]
    delivery = [d for d in await channel.deliveries() if d.message_id == message.id]
    assert [d.status for d in delivery] == [m.DeliveryStatus.SENT] and delivery[0].external_id
    assert (await channel.messages())[-1].role == "human"


# --- statuses ------------------------------------------------------------------------------------------


async def test_statuses_move_deliveries_forward_and_failed_keeps_its_error(channel: Channel) -> None:
    demo = channel.demo
    await channel.deliver(one_change(text(demo, "hello"), text(demo, "where do you ship?")))
    await channel.settled()
    first, second = (s.wamid or "" for s in channel.graph.sends)
    read = status(demo, "status_delivered", first, status="read", timestamp="1698267000")
    updates = entries(
        status(demo, "status_sent", first),
        status(demo, "status_delivered", first),
        read,
        status(demo, "status_delivered", first),  # a redelivery after read
        status(demo, "status_sent", second),
        status(demo, "status_failed", second),
        status(demo, "status_sent", "wamid.NOT-OURS"),
    )
    assert await channel.deliver(updates) == 7
    [result] = (await channel.settled())[1:]
    assert result == {"processed": 6, "duplicate": 1, "skipped": 0, "sent": 0}

    one, two = await channel.deliveries()
    assert (one.external_id, one.status, one.error) == (first, "read", None)
    assert [h["status"] for h in one.history] == ["pending", "sending", "sent", "sent", "delivered", "read"]
    assert (two.external_id, two.status) == (second, "failed")
    assert two.error == {
        "code": 130472,
        "title": "User's number is part of an experiment",
        "details": "Failed to send message because this user's phone number is part of an experiment",
    }


# --- sending -------------------------------------------------------------------------------------------


async def test_a_rate_limited_send_is_retried_after_retry_after_and_a_refused_one_is_failed(
    channel: Channel,
) -> None:
    channel.graph.fail(429, retry_after=1)
    channel.graph.fail(500)
    await channel.say("hello")
    attempts = channel.graph.requests
    assert [r.wamid is not None for r in attempts] == [False, False, True]
    assert attempts[1].received_at - attempts[0].received_at >= 1.0, "Retry-After: 1 was not honoured"
    assert attempts[0].body == attempts[2].body
    [delivery] = await channel.deliveries()
    assert (delivery.status, delivery.external_id) == ("sent", attempts[2].wamid)

    channel.graph.fail(400, code=131026)
    await channel.say("thanks")
    refused = (await channel.deliveries())[-1]
    assert refused.status == "failed" and refused.error is not None and refused.error["code"] == 131026
    assert len(channel.graph.requests) == 4, "a refused send is not retried"


async def test_a_reply_that_could_not_be_sent_is_sent_on_the_retry_not_lost(channel: Channel) -> None:
    channel.graph.fail(503, times=channel.settings.whatsapp_max_attempts)
    payload = text(channel.demo, "hello")
    await channel.deliver(payload)
    [send] = await channel.graph.wait_for_sends(1)
    [result] = await channel.settled()
    assert result == {"processed": 0, "duplicate": 1, "skipped": 0, "sent": 1}, "the job's retry sent it"
    assert len(channel.graph.requests) == channel.settings.whatsapp_max_attempts + 1
    [delivery] = await channel.deliveries()
    assert (delivery.status, delivery.external_id, delivery.attempts) == ("sent", send.wamid, 2)
    assert len(await channel.messages()) == 2, "the turn ran once"


async def test_outside_the_24_hour_window_only_the_template_goes_out(channel: Channel) -> None:
    stale = datetime.now(UTC) - timedelta(hours=25)
    await channel.account_config(reengagement_template={"name": "we_are_back", "language": "en_GB"})
    await channel.say("hello", sent_at=stale)
    [send] = channel.graph.sends
    assert send.text is None and send.body["template"] == {"name": "we_are_back", "language": {"code": "en_GB"}}
    [delivery] = await channel.deliveries()
    assert (delivery.kind, delivery.status) == ("template", "sent")

    await channel.account_config(reengagement_template=None)
    other = "15550001111"
    await channel.say("hello", wa_id=other, sent_at=stale)
    assert len(channel.graph.sends) == 1
    [held] = await channel.deliveries(other)
    assert held.status == "not_sent" and held.error is not None and held.error["code"] == "outside_service_window"

    await channel.say("hello again", wa_id=other)  # writing again reopens the window
    assert [s.to for s in channel.graph.sends] == [SHOPPER, other] and channel.graph.sends[1].text


async def test_long_replies_go_out_in_parts_under_4096_characters(channel: Channel, engine: AsyncEngine) -> None:
    await channel.say("hello")
    sentence = "Our heavyweight hoodie is brushed inside and keeps its shape after many washes. "
    paragraphs = [sentence * 12, sentence * 70, sentence * 20, sentence * 30]
    long_reply = "\n\n".join(p.strip() for p in paragraphs)
    async with session_factory(engine)() as session:
        conversation = (
            await session.execute(select(m.Conversation).where(m.Conversation.external_ref == SHOPPER))
        ).scalar_one()
        account = (
            await session.execute(
                select(m.ChannelAccount).where(m.ChannelAccount.external_id == channel.demo.whatsapp_phone_number_id)
            )
        ).scalar_one()
        message = m.Message(
            tenant_id=conversation.tenant_id,
            conversation_id=conversation.id,
            role="human_agent",
            content=long_reply,
            created_at=datetime.now(UTC),
        )
        session.add(message)
        await session.flush()
        plan(session, conversation=conversation, message=message, account_config=account.config, now=datetime.now(UTC))
        await session.commit()
        async with open_graph_api(channel.settings) as api:
            assert await deliver_pending(session, api, account=account, conversation=conversation) == 4
    parts = [s.text or "" for s in channel.graph.sends[1:]]
    assert all(len(p) <= MAX_TEXT for p in parts) and all(p.endswith(".") for p in parts)
    first, long_one, *rest = (p.strip() for p in paragraphs)
    assert parts[0] == first, "a paragraph that fits is not glued to part of the next"
    assert f"{parts[1]} {parts[2]}" == long_one, "a paragraph too long for one message is cut between sentences"
    assert parts[3] == "\n\n".join(rest), "paragraphs that fit together share a message"


@pytest.mark.parametrize(
    ("text_in", "limit", "parts"),
    [
        ("short", 10, ["short"]),
        ("one two.\n\nthree four.", 12, ["one two.", "three four."]),
        ("First one. Second one. Third.", 22, ["First one. Second one.", "Third."]),
        ("alpha beta gamma delta", 11, ["alpha beta", "gamma delta"]),
        ("x" * 25, 10, ["x" * 10, "x" * 10, "x" * 5]),
        ("  \n ", 10, []),
    ],
)
def test_split_text_prefers_paragraphs_then_sentences_then_words(text_in: str, limit: int, parts: list[str]) -> None:
    assert split_text(text_in, limit) == parts


# --- opt-out -------------------------------------------------------------------------------------------


async def test_stop_is_honoured_until_the_customer_writes_start(channel: Channel, engine: AsyncEngine) -> None:
    customer = await customer_with_phone(engine, channel.demo)
    wa_id = (customer.phone or "").lstrip("+")
    async with session_factory(engine)() as session:
        (await session.get(m.Customer, customer.id)).whatsapp_opt_in = True  # type: ignore[union-attr]
        await session.commit()

    async def opted_in() -> bool:
        async with session_factory(engine)() as session:
            return (await session.get(m.Customer, customer.id)).whatsapp_opt_in  # type: ignore[union-attr]

    await channel.say("Stop", wa_id=wa_id)
    [confirmation] = channel.graph.sends
    assert "unsubscribed" in (confirmation.text or "") and "START" in (confirmation.text or "")
    assert not await opted_in() and (await channel.conversation(wa_id)).customer_id == customer.id
    await channel.say("UNSUBSCRIBE", wa_id=wa_id)
    await channel.say("where is my order?", wa_id=wa_id)
    assert len(channel.graph.sends) == 1, "confirmed once, then silence"

    await channel.say("start", wa_id=wa_id)
    await channel.say("hello", wa_id=wa_id)
    welcome, answer = channel.graph.sends[1:]
    assert "Welcome back" in (welcome.text or "") and "assistant" in (answer.text or "")
    assert await opted_in()
    async with session_factory(engine)() as session:
        actions = (
            await session.execute(
                select(m.AuditEvent.action).where(m.AuditEvent.action.like("whatsapp.%")).order_by(m.AuditEvent.id)
            )
        ).scalars()
        assert list(actions) == ["whatsapp.opt_out", "whatsapp.opt_in"]
    assert [r.content for r in await channel.messages(wa_id) if r.role == "customer"] == [
        "Stop",
        "UNSUBSCRIBE",
        "where is my order?",
        "start",
        "hello",
    ]


async def test_a_conversation_lock_is_a_short_lease_renewed_while_its_worker_lives(
    wa_settings: Settings, engine: AsyncEngine
) -> None:
    """A worker killed mid-event leaves at most one lease behind, not the whole `whatsapp_lock_s` wait."""
    from redis.asyncio import Redis

    from chat_ui.whatsapp.constants import CONVERSATION_LOCK
    from chat_ui.whatsapp.worker import WhatsAppChannel

    settings = wa_settings.model_copy(update={"whatsapp_lock_lease_s": 0.6, "whatsapp_lock_s": 5.0})
    redis = Redis.from_url(settings.redis_url or "", decode_responses=True)
    channel = WhatsAppChannel(session_factory(engine), redis, None, None, settings, None, None)  # type: ignore[arg-type]
    tenant, key = uuid.uuid4(), f"{CONVERSATION_LOCK}"
    try:
        async with channel.conversation_lock(tenant, SHOPPER):
            await asyncio.sleep(1.5)  # longer than the lease: it is renewed, not lost
            ttl_ms = await redis.pttl(f"{key}:{tenant}:{SHOPPER}")
            assert 0 < ttl_ms <= 600, "what a dead holder would leave behind lapses within one lease"
            waiting = asyncio.create_task(_take(channel, tenant))
            await asyncio.sleep(0.3)
            assert not waiting.done(), "a second worker waits while the holder lives"
        async with asyncio.timeout(5):
            await waiting
        assert await redis.exists(f"{key}:{tenant}:{SHOPPER}") == 0
    finally:
        await redis.aclose()


async def _take(channel: Any, tenant: uuid.UUID) -> None:
    async with channel.conversation_lock(tenant, SHOPPER):
        pass


# --- the hot path: a webhook answered from memory, statuses in batches, a killed worker ----------------


@contextmanager
def statements() -> Iterator[list[str]]:
    """Collect every SQL statement any engine of this process sends on behalf of a request while the block runs.

    What a request runs, and every task it starts, carries its request id; the reloads the app's followers run on
    their own clock (kill switches, WhatsApp accounts) do not, and may land in the block on a busy machine.
    """
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if structlog.contextvars.get_contextvars().get("request_id"):
            sent.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def webhook_requests(status: int) -> float:
    return (
        REGISTRY.get_sample_value(
            "hub_http_requests_total", {"method": "POST", "route": "/webhooks/whatsapp", "status": str(status)}
        )
        or 0.0
    )


async def test_the_webhook_answers_from_memory_without_a_database_query(channel: Channel) -> None:
    demo = channel.demo
    first, second = text(demo, "hello"), text(demo, "hi", wa_id="15550002222")
    bodies = [
        first,
        first,  # Meta redelivers
        one_change(text(demo, "one", wa_id="15550003333"), text(demo, "two", wa_id="15550004444")),
        entries(second, status(demo, "status_sent", "wamid.A"), status(demo, "status_delivered", "wamid.B")),
        *(status(demo, "status_delivered", f"wamid.C{i}") for i in range(20)),
    ]
    signed = [(raw, sign(raw, demo.whatsapp_app_secret)) for raw in (json.dumps(b).encode() for b in bodies)]
    answered = webhook_requests(200)
    with statements() as sent:  # no worker runs yet: every statement would be the webhook's
        responses = [await channel.post(raw, signature=signature) for raw, signature in signed]
    assert sent == [], "a POST reads the accounts from memory and queues the raw body"
    assert [r.json()["received"] for r in responses] == [1, 1, 2, 3, *([1] * 20)]
    assert all(r.headers["x-request-id"] for r in responses)
    assert webhook_requests(200) - answered == len(bodies), "each POST is counted under its route"
    assert len(channel.task_ids) == len(bodies), "one job per POST, the raw body queued once"

    forged = json.dumps(text(demo, "hi")).encode()
    unknown = text(demo, "hi")
    _value(unknown)["metadata"]["phone_number_id"] = "999999999999"
    raw = json.dumps(unknown).encode()
    started = time.monotonic()
    with statements() as sent:
        refused = [await channel.post(forged, signature=sign(forged, "guess")) for _ in range(10)]
        refused += [await channel.post(raw, signature=sign(raw, demo.whatsapp_app_secret)) for _ in range(10)]
    assert {r.status_code for r in refused} == {403}
    allowed = 1 + int(time.monotonic() - started)
    assert 1 <= len(sent) <= allowed, "an unknown number or secret reloads the accounts, at most once a second"

    channel.start_worker()
    results = await channel.settled()
    assert sum(r["processed"] for r in results) == 4 + 22 and sum(r["duplicate"] for r in results) == 1
    assert {s.to for s in channel.graph.sends} == {SHOPPER, "15550002222", "15550003333", "15550004444"}


async def test_malformed_webhooks_get_the_same_answers_and_queue_nothing(channel: Channel) -> None:
    secret = channel.demo.whatsapp_app_secret
    not_json = b"{not json"
    no_numbers = json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {}}]}]}).encode()
    odd_shapes = json.dumps({"entry": "nope", "messages": [{"id": "wamid.X"}]}).encode()
    nameless = text(channel.demo, "hi")
    del _value(nameless)["messages"][0]["id"]
    no_id = json.dumps(nameless).encode()

    unsigned = await channel.post(not_json)
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "missing_signature"
    bad = await channel.post(not_json, signature="sha256=00")
    assert bad.status_code == 403 and bad.json()["error"]["code"] == "invalid_signature"
    broken = await channel.post(not_json, signature=sign(not_json, secret))
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    for body in (no_numbers, odd_shapes, no_id):
        answer = await channel.post(body, signature=sign(body, secret))
        assert (answer.status_code, answer.json()) == (200, {"received": 0})
    assert all(r.headers["x-request-id"] for r in (unsigned, bad, broken, answer))
    assert channel.task_ids == [], "nothing to do is not queued"


async def test_a_new_app_secret_or_a_deactivated_shop_reaches_the_webhook_without_a_restart(
    channel: Channel,
) -> None:
    demo = channel.demo
    body = json.dumps(text(demo, "hello")).encode()

    async def answer(secret: str) -> tuple[int, Any]:
        response = await channel.post(body, signature=sign(body, secret))
        return response.status_code, response.json()

    assert await answer(demo.whatsapp_app_secret) == (200, {"received": 1})
    await channel.account_config(app_secret="rotated-secret")  # an ORM change to the row: announced on commit
    assert await answer(demo.whatsapp_app_secret) == (403, ANY), "the old secret is refused at once"
    assert await answer("rotated-secret") == (200, {"received": 1})

    async with channel.sessions() as session:  # an ORM bulk UPDATE: announced too
        await session.execute(update(m.Tenant).where(m.Tenant.id == uuid.UUID(demo.tenant_id)).values(active=False))
        await session.commit()
    await channel.seen_everywhere(lambda copy: not copy.get(demo.whatsapp_phone_number_id).active)  # type: ignore[union-attr]
    assert await answer("rotated-secret") == (200, {"received": 0}), "a deactivated shop's events are dropped"
    assert len(channel.task_ids) == 2


async def test_a_burst_of_statuses_from_many_jobs_is_applied_in_a_few_batched_statements(
    channel: Channel, engine: AsyncEngine
) -> None:
    await channel.say("hello")
    [reply] = await channel.deliveries()
    sessions = session_factory(engine)
    async with sessions() as session:  # 30 more sent replies to report on
        conversation = await session.get(m.Conversation, reply.conversation_id)
        assert conversation is not None
        rows = [
            m.MessageDelivery(
                tenant_id=reply.tenant_id,
                message_id=reply.message_id,
                conversation_id=reply.conversation_id,
                seq=i + 2,
                kind=m.DeliveryKind.REPLY,
                body={},
                status=m.DeliveryStatus.SENT,
                external_id=f"wamid.BURST{i}",
                history=[{"status": "sent", "at": "2026-01-01T00:00:00+00:00"}],
                attempts=1,
            )
            for i in range(30)
        ]
        session.add_all(rows)
        await session.commit()
    tenant_id = uuid.UUID(channel.demo.tenant_id)
    ledger = StatusLedger(sessions)

    def delivered(wamid: str) -> StatusUpdate:
        return StatusUpdate(id=wamid, status="delivered", recipient_id=SHOPPER, timestamp=datetime.now(UTC))

    jobs = [[delivered(f"wamid.BURST{i}")] for i in range(30)] + [[delivered("wamid.BURST0")] * 2]  # redeliveries
    with statements() as sent:
        counts = await asyncio.gather(*(ledger.apply(tenant_id, updates) for updates in jobs))
    assert sum((c["processed"] for c in counts), 0) == 30 and sum((c["duplicate"] for c in counts), 0) == 2
    updates = [s for s in sent if s.lstrip().upper().startswith("UPDATE")]
    assert len(sent) <= 6 and len(updates) <= 2, f"32 statuses from 31 jobs took {len(sent)} statements: {sent}"
    moved = {d.external_id: d for d in await channel.deliveries()}
    assert all(moved[f"wamid.BURST{i}"].status == "delivered" for i in range(30))
    assert [h["status"] for h in moved["wamid.BURST0"].history] == ["sent", "delivered"], "applied once"


async def channel_worker(channel: Channel, **env: str) -> asyncio.subprocess.Process:
    """Start a real `hub worker channels` on the test's database, Redis and fake Graph API, with `env` on top."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub",
        "worker",
        "channels",
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
            "HUB_DATA_DIR": str(channel.settings.data_dir),
            "HUB_DATABASE_URL": channel.settings.resolved_database_url,
            "HUB_REDIS_URL": channel.settings.redis_url or "",
            "HUB_WHATSAPP_API_BASE": channel.graph.base_url,
            "HUB_JOBS_IDLE_TIMEOUT_S": "1",
            **env,
        },
        stdout=asyncio.subprocess.DEVNULL,
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_worker_killed_mid_webhook_loses_and_duplicates_nothing(channel: Channel) -> None:
    """The job is reclaimed by the next worker: customers answered before the kill are not answered twice,
    the one the dead worker had not reached yet is answered once."""
    from redis.asyncio import Redis

    demo, tenant = channel.demo, channel.demo.tenant_id
    customers = ["15550005551", "15550005552", "15550005553"]
    blocked = f"{CONVERSATION_LOCK}:{tenant}:{customers[2]}"
    redis = Redis.from_url(channel.settings.redis_url or "")
    await redis.set(blocked, "held-by-the-test", px=120_000)  # the worker waits here for the third customer

    def worker() -> Awaitable[asyncio.subprocess.Process]:
        return channel_worker(channel, HUB_WHATSAPP_LOCK_S="120")

    body = json.dumps(one_change(*(text(demo, "hello", wa_id=c) for c in customers))).encode()
    doomed = await worker()
    try:
        response = await channel.post(body, signature=sign(body, demo.whatsapp_app_secret))
        assert response.json() == {"received": 3}
        await channel.graph.wait_for_sends(2, within_s=45)
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()
    await redis.delete(blocked)
    await redis.aclose()
    successor = await worker()
    try:
        await channel.graph.wait_for_sends(3, within_s=45)
        [result] = await channel.settled(within_s=30)
    finally:
        successor.send_signal(signal.SIGTERM)
        await successor.wait()
    assert result == {"processed": 1, "duplicate": 2, "skipped": 0, "sent": 1}, "the reclaimed job redid only the rest"
    assert sorted(s.to for s in channel.graph.sends) == customers, "each customer answered exactly once"


def unconfirmed_sends() -> float:
    return REGISTRY.get_sample_value("hub_deliveries_unconfirmed_total", {"channel": "whatsapp"}) or 0.0


async def confirm_by_status(channel: Channel, send: Any, status_name: str = "sent") -> m.MessageDelivery:
    """Post Meta's status about `send`, echoing the callback data it carried; return its delivery once applied."""
    report = status(channel.demo, f"status_{status_name}", send.wamid, wa_id=send.to)
    _value(report)["statuses"][0][CALLBACK_KEY] = send.body[CALLBACK_KEY]
    await channel.deliver(report)
    await channel.settled()
    [delivery] = [d for d in await channel.deliveries(send.to) if str(d.id) == send.body[CALLBACK_KEY]]
    return delivery


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_worker_killed_after_the_graph_api_accepted_a_reply_never_sends_it_twice(channel: Channel) -> None:
    """The reply is claimed before the send: the next worker finds the claim, marks the reply unconfirmed instead
    of sending it again, and Meta's status for it (echoing the delivery id) confirms it went out."""
    demo = channel.demo

    def worker() -> Awaitable[asyncio.subprocess.Process]:
        return channel_worker(channel, HUB_WHATSAPP_LOCK_LEASE_S="2")

    channel.graph.hold()  # the Graph API takes the reply; its answer waits until the worker is dead
    doomed = await worker()
    try:
        body = json.dumps(text(demo, "hello")).encode()
        assert (await channel.post(body, signature=sign(body, demo.whatsapp_app_secret))).status_code == 200
        [accepted] = await channel.graph.wait_for_sends(1, within_s=45)
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
    finally:
        if doomed.returncode is None:
            doomed.kill()
            await doomed.wait()
        channel.graph.release()
    successor = await worker()
    try:
        [result] = await channel.settled(within_s=45)
    finally:
        successor.send_signal(signal.SIGTERM)
        await successor.wait()
    assert result == {"processed": 0, "duplicate": 1, "skipped": 0, "sent": 0}
    assert channel.graph.requests == [accepted], "sent once: the retried job did not send the reply again"
    [delivery] = await channel.deliveries()
    assert (delivery.status, delivery.external_id) == ("unconfirmed", None)
    assert delivery.error is not None and delivery.error["code"] == "unconfirmed"
    assert [h["status"] for h in delivery.history] == ["pending", "sending", "unconfirmed"]

    confirmed = await confirm_by_status(channel, accepted)
    assert (confirmed.status, confirmed.external_id, confirmed.error) == ("sent", accepted.wamid, None)
    assert channel.graph.requests == [accepted]


async def test_a_reply_whose_answer_is_lost_is_unconfirmed_not_sent_again(channel: Channel) -> None:
    """A read timeout after the request went out is not retried: the Graph API may have taken it."""
    channel.settings = channel.settings.model_copy(update={"whatsapp_timeout_s": 0.5})
    unconfirmed = unconfirmed_sends()
    channel.graph.hold()
    await channel.say("hello")
    channel.graph.release()
    [accepted] = channel.graph.sends
    assert len(channel.graph.requests) == 1, "not retried"
    [delivery] = await channel.deliveries()
    assert delivery.status == "unconfirmed" and "ReadTimeout" in (delivery.error or {}).get("details", "")
    assert unconfirmed_sends() - unconfirmed == 1

    confirmed = await confirm_by_status(channel, accepted, "delivered")
    assert (confirmed.status, confirmed.external_id) == ("delivered", accepted.wamid)
    await channel.say("thanks")  # the conversation goes on: the next reply is sent as usual
    assert len(channel.graph.sends) == 2 and unconfirmed_sends() - unconfirmed == 1


async def test_accounts_written_where_nothing_announces_are_found_on_a_miss_or_by_the_poll(
    wa_settings: Settings, engine: AsyncEngine, demo: DemoCredentials
) -> None:
    """A CLI command or raw SQL announces nothing: a new number is loaded when a webhook names it, a changed
    secret when the poll comes round."""
    from redis.asyncio import Redis

    redis = Redis.from_url(wa_settings.redis_url or "", decode_responses=True)
    tenant_id = uuid.UUID(demo.tenant_id)
    try:
        sessions = session_factory(engine)
        async with open_accounts(
            sessions, redis, box=SecretBox(wa_settings.secret_key.get_secret_value()), reload_s=3600
        ) as accounts:
            async with engine.begin() as conn:  # Core statements: no ORM session, so nothing announces them
                await conn.execute(
                    m.ChannelAccount.__table__.insert().values(
                        id=uuid.uuid4(),
                        tenant_id=tenant_id,
                        channel=m.Channel.WHATSAPP,
                        external_id="123450001",
                        config={"app_secret": "second-number-secret"},
                    )
                )
            found = await accounts.find("123450001")
            assert found is not None and found.tenant_id == tenant_id, "an unknown number reloads at once"

        async with open_accounts(
            sessions, redis, box=SecretBox(wa_settings.secret_key.get_secret_value()), reload_s=0.3
        ) as accounts:
            async with engine.begin() as conn:
                await conn.execute(
                    m.ChannelAccount.__table__.update()
                    .where(m.ChannelAccount.external_id == "123450001")
                    .values(config={"app_secret": "rotated"})
                )
            async with asyncio.timeout(5):
                while (a := accounts.get("123450001")) is None or a.config.get("app_secret") != "rotated":  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
