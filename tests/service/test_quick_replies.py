"""Quick replies on both shopper channels, offered by the engine's own flows (a cancellation's Yes and No, a return's
reasons): the widget API returns and stores them, WhatsApp sends them as reply buttons or a list and reads a tapped
one back as its title, which carries the flow on."""

# ruff: noqa: F811 — tests take the fixtures imported from the channel's main tests as arguments

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from agents.replies import QuickReply
from chat_ui.whatsapp.graph_api import open_graph_api
from chat_ui.whatsapp.outbox import deliver_pending, plan
from hub.db import models as m
from hub.db.engine import session_factory
from hub.seed.demo import DemoCredentials
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

CONFIRM = [{"id": "yes", "title": "Yes, go ahead"}, {"id": "no", "title": "No"}]


def _events(body: str) -> list[tuple[str, dict]]:
    return [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
        for block in body.strip().split("\n\n")
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_chat_api_returns_the_choices_offered_and_keeps_them_on_the_stored_reply(
    api: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession
) -> None:
    headers = {"X-Hub-Key": demo.storefront_key}
    plain = await api.post("/v1/chat", json={"session_id": "qr-1", "message": "hello"}, headers=headers)
    assert plain.status_code == 200 and plain.json()["quick_replies"] == []

    cancel = f"please cancel my order {demo.unfulfilled_order_id}, {demo.unfulfilled_order_email}"
    out = await api.post("/v1/chat", json={"session_id": "qr-1", "message": cancel}, headers=headers)
    body = out.json()
    assert out.status_code == 200 and "Shall I go ahead?" in body["reply"]
    assert body["quick_replies"] == [{**c, "description": None} for c in CONFIRM]
    stored = await session.get(m.Message, uuid.UUID(body["message_id"]))
    assert stored is not None and stored.meta["quick_replies"] == CONFIRM, "a reload can offer them again"

    streamed = await api.post("/v1/chat/stream", json={"session_id": "qr-2", "message": cancel}, headers=headers)
    events = _events(streamed.text)
    [(_, done)] = [e for e in events if e[0] == "done"]
    assert events[-1][0] == "done" and done["message_id"] == events[0][1]["message_id"]
    assert done["quick_replies"] == CONFIRM
    plain_stream = await api.post("/v1/chat/stream", json={"session_id": "qr-3", "message": "thanks"}, headers=headers)
    assert _events(plain_stream.text)[-1][1]["quick_replies"] == []


async def test_whatsapp_offers_choices_as_reply_buttons_and_a_tap_confirms_the_request(
    channel: Channel, engine: AsyncEngine
) -> None:
    demo = channel.demo
    await channel.say(f"I want to cancel my order {demo.unfulfilled_order_id}, email {demo.unfulfilled_order_email}")
    [send] = channel.graph.sends
    [reply] = [r for r in await channel.messages() if r.role == "assistant"]
    assert (send.to, send.body["type"]) == (SHOPPER, "interactive")
    assert send.body["interactive"] == {
        "type": "button",
        "body": {"text": reply.content},
        "action": {"buttons": [{"type": "reply", "reply": c} for c in CONFIRM]},
    }
    assert reply.meta["quick_replies"] == CONFIRM
    [delivery] = await channel.deliveries()
    assert (delivery.status, delivery.external_id) == ("sent", send.wamid)

    tap = inbound(demo, "interactive_button_reply")
    _value(tap)["messages"][0]["interactive"]["button_reply"] = CONFIRM[0]
    await channel.deliver(tap)
    await channel.settled()
    tapped = [r for r in await channel.messages() if r.role == "customer"][-1]
    assert tapped.content == "Yes, go ahead" and tapped.meta["whatsapp"]["reply_id"] == "yes"
    assert tapped.meta["whatsapp"]["kind"] == "button"
    answer = channel.graph.sends[-1]
    assert len(channel.graph.sends) == 2 and answer.body["type"] == "text", "no choices offered this time"
    assert "CXL-" in answer.body["text"]["body"]
    async with session_factory(engine)() as session:
        order = (await session.execute(select(m.Order).where(m.Order.number == demo.unfulfilled_order_id))).scalar_one()
    assert order.status == m.OrderStatus.CANCEL_REQUESTED


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_return_offers_its_reasons_as_a_list_and_a_list_tap_carries_the_flow_on(channel: Channel) -> None:
    demo = channel.demo
    await channel.say(f"I'd like to return order {demo.delivered_order_id}, email {demo.delivered_order_email}")
    [send] = channel.graph.sends
    assert send.body["type"] == "interactive" and send.body["interactive"]["type"] == "list"
    rows = send.body["interactive"]["action"]["sections"][0]["rows"]
    assert {"id": "reason:damaged", "title": "Damaged or faulty"} in rows and len(rows) == 6
    tap = inbound(demo, "interactive_list_reply")
    _value(tap)["messages"][0]["interactive"]["list_reply"] = {"id": "reason:damaged", "title": "Damaged or faulty"}
    await channel.deliver(tap)
    await channel.settled()
    tapped = [r for r in await channel.messages() if r.role == "customer"][-1]
    assert tapped.content == "Damaged or faulty" and tapped.meta["whatsapp"]["reply_id"] == "reason:damaged"
    assert tapped.meta["whatsapp"]["kind"] == "list"
    proposal = channel.graph.sends[-1]
    assert proposal.body["interactive"]["type"] == "button", "a damaged item goes straight to Yes or No"
    assert "Shall I go ahead?" in proposal.body["interactive"]["body"]["text"]


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
                session,
                conversation=conversation,
                message=message,
                account_config={},
                now=now,
                choices=[QuickReply(**c) for c in CONFIRM],
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
        [row] = plan(
            session,
            conversation=conversation,
            message=message,
            account_config={},
            now=now,
            choices=[QuickReply(**c) for c in CONFIRM],
        )
        await session.commit()
        async with open_graph_api(channel.settings) as api:
            assert await deliver_pending(session, api, account=account, conversation=conversation) == 0
        await session.refresh(row)
        assert row.status == m.DeliveryStatus.NOT_SENT and row.error == {
            "code": "opted_out",
            "title": "the customer opted out of WhatsApp messages",
        }
