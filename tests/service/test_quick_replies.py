"""Quick replies on both shopper channels: the widget API returns and stores them, WhatsApp sends them as reply
buttons and reads a tapped one back as its title.

Until the engine's own flows offer choices, `tests.offered_choices` makes the real graph's answer to chosen messages
carry them; everything after the graph (the turn runner, the API, the worker, the outbox) is the real code.
"""

# ruff: noqa: F811 — tests take the fixtures imported from the channel's main tests as arguments

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from agents.engine import QuickReply
from chat_ui.whatsapp.graph_api import open_graph_api
from chat_ui.whatsapp.outbox import deliver_pending, plan
from hub.db import models as m
from hub.db.engine import session_factory
from hub.seed.demo import DemoCredentials
from tests.offered_choices import offer_choices
from tests.service.test_whatsapp import (  # noqa: F401 — its fixtures, shared
    SHOPPER,
    Channel,
    _value,
    channel,
    graph,
    inbound,
    wa_settings,
)

pytestmark = pytest.mark.timeout(60)

CONFIRM = [QuickReply(id="yes", title="Yes"), QuickReply(id="no", title="No, keep it")]
REASONS = [
    QuickReply(id="reason:damaged", title="It arrived damaged", description="Torn, stained or broken"),
    QuickReply(id="reason:size", title="Wrong size"),
]


def _events(body: str) -> list[tuple[str, dict]]:
    return [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
        for block in body.strip().split("\n\n")
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_chat_api_returns_the_choices_offered_and_keeps_them_on_the_stored_reply(
    api: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    offer_choices(monkeypatch, REASONS, when=lambda text: "return" in text)
    headers = {"X-Hub-Key": demo.storefront_key}
    plain = await api.post("/v1/chat", json={"session_id": "qr-1", "message": "hello"}, headers=headers)
    assert plain.status_code == 200 and plain.json()["quick_replies"] == []

    out = await api.post("/v1/chat", json={"session_id": "qr-1", "message": "I want to return it"}, headers=headers)
    body = out.json()
    assert out.status_code == 200 and body["reply"] and body["intent"]
    assert body["quick_replies"] == [
        {"id": "reason:damaged", "title": "It arrived damaged", "description": "Torn, stained or broken"},
        {"id": "reason:size", "title": "Wrong size", "description": None},
    ]
    stored = await session.get(m.Message, uuid.UUID(body["message_id"]))
    assert stored is not None and stored.meta["quick_replies"] == [
        {"id": "reason:damaged", "title": "It arrived damaged", "description": "Torn, stained or broken"},
        {"id": "reason:size", "title": "Wrong size"},
    ], "a reload can offer them again"

    streamed = await api.post(
        "/v1/chat/stream", json={"session_id": "qr-2", "message": "can I return this?"}, headers=headers
    )
    events = _events(streamed.text)
    [(_, done)] = [e for e in events if e[0] == "done"]
    assert events[-1][0] == "done" and done["message_id"] == events[0][1]["message_id"]
    assert done["quick_replies"] == [
        {"id": "reason:damaged", "title": "It arrived damaged", "description": "Torn, stained or broken"},
        {"id": "reason:size", "title": "Wrong size"},
    ]
    plain_stream = await api.post("/v1/chat/stream", json={"session_id": "qr-2", "message": "thanks"}, headers=headers)
    assert _events(plain_stream.text)[-1][1]["quick_replies"] == []


async def test_whatsapp_offers_choices_as_reply_buttons_and_a_tap_reaches_the_turn_as_its_title(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    said = offer_choices(monkeypatch, CONFIRM, when=lambda text: "return" in text)
    await channel.say("I'd like to return my hoodie")
    [send] = channel.graph.sends
    [reply] = [r for r in await channel.messages() if r.role == "assistant"]
    assert (send.to, send.body["type"]) == (SHOPPER, "interactive")
    assert send.body["interactive"] == {
        "type": "button",
        "body": {"text": reply.content},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                {"type": "reply", "reply": {"id": "no", "title": "No, keep it"}},
            ]
        },
    }
    assert reply.meta["quick_replies"] == [{"id": "yes", "title": "Yes"}, {"id": "no", "title": "No, keep it"}]
    [delivery] = await channel.deliveries()
    assert (delivery.status, delivery.external_id) == ("sent", send.wamid)

    tap = inbound(channel.demo, "interactive_button_reply")
    _value(tap)["messages"][0]["interactive"]["button_reply"] = {"id": "no", "title": "No, keep it"}
    await channel.deliver(tap)
    await channel.settled()
    assert said[-1] == "No, keep it", "the turn reads the tapped choice's title"
    tapped = [r for r in await channel.messages() if r.role == "customer"][-1]
    assert tapped.content == "No, keep it" and tapped.meta["whatsapp"]["reply_id"] == "no"
    assert tapped.meta["whatsapp"]["kind"] == "button"
    answer = channel.graph.sends[-1]
    assert len(channel.graph.sends) == 2 and answer.body["type"] == "text", "no choices offered this time"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_list_tap_reaches_the_turn_as_its_title_with_its_id_kept(
    channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    said = offer_choices(monkeypatch, [], when=lambda text: False)
    tap = inbound(channel.demo, "interactive_list_reply")
    _value(tap)["messages"][0]["interactive"]["list_reply"] = {"id": "item:SKU-2", "title": "Trail hoodie (M)"}
    await channel.deliver(tap)
    await channel.settled()
    [tapped] = [r for r in await channel.messages() if r.role == "customer"]
    assert said == ["Trail hoodie (M)"] and tapped.meta["whatsapp"]["reply_id"] == "item:SKU-2"
    assert tapped.meta["whatsapp"]["kind"] == "list"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_choices_held_back_like_text_once_the_window_closes_or_the_customer_opts_out(
    channel: Channel, engine: AsyncEngine
) -> None:
    await channel.say("hello")
    sent_before = len(channel.graph.sends)
    async with session_factory(engine)() as session:
        conversation = (
            await session.execute(select(m.Conversation).where(m.Conversation.external_ref == SHOPPER))
        ).scalar_one()
        account = (
            await session.execute(
                select(m.ChannelAccount).where(m.ChannelAccount.external_id == channel.demo.whatsapp_phone_number_id)
            )
        ).scalar_one()
        now = datetime.now(UTC)
        rows = []
        for text in ("Shall I start the return?", "Shall I cancel it?"):
            message = m.Message(
                tenant_id=conversation.tenant_id,
                conversation_id=conversation.id,
                role="assistant",
                content=text,
                created_at=now,
            )
            session.add(message)
            await session.flush()
            rows += plan(
                session, conversation=conversation, message=message, account_config={}, now=now, choices=CONFIRM
            )
        await session.commit()
        assert [r.body["type"] for r in rows] == ["interactive", "interactive"]
        later = now + timedelta(hours=25)
        async with open_graph_api(channel.settings) as api:
            sent = await deliver_pending(session, api, account=account, conversation=conversation, clock=lambda: later)
        assert sent == 0 and len(channel.graph.sends) == sent_before
        for row in rows:
            await session.refresh(row)
        assert [r.status for r in rows] == [m.DeliveryStatus.NOT_SENT] * 2
        assert all(r.error is not None and r.error["code"] == "outside_service_window" for r in rows)

        conversation.opted_out_at = now
        message = m.Message(
            tenant_id=conversation.tenant_id, conversation_id=conversation.id, role="assistant", content="Shall I?"
        )
        session.add(message)
        await session.flush()
        [row] = plan(session, conversation=conversation, message=message, account_config={}, now=now, choices=CONFIRM)
        await session.commit()
        async with open_graph_api(channel.settings) as api:
            assert await deliver_pending(session, api, account=account, conversation=conversation) == 0
        await session.refresh(row)
        assert row.status == m.DeliveryStatus.NOT_SENT and row.error == {
            "code": "opted_out",
            "title": "the customer opted out of WhatsApp messages",
        }
