"""A person takes a shopper's conversation over from the console, answers on the shopper's channel, gives it back."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_ui import console_commands as cc
from chat_ui import handoff
from graphs.turns import HUMAN_HOLD_REPLY
from hub.db import models as m
from hub.db.engine import session_factory
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from tests.agent_harness import running


async def test_a_web_shopper_is_handed_to_a_person_who_answers_through_the_widget_then_back_to_the_bot(
    app_settings: Settings, engine: AsyncEngine, demo: DemoCredentials
) -> None:
    tenant_id = uuid.UUID(demo.tenant_id)
    sessions = session_factory(engine)
    key = {"X-Hub-Key": demo.storefront_key}
    async with running(app_settings) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:

            async def say(text: str, session_id: str = "web-h1") -> dict:
                r = await client.post("/v1/chat", json={"session_id": session_id, "message": text}, headers=key)
                assert r.status_code == 200, r.text
                return r.json()

            async def polled(after: str | None = None) -> dict:
                params = {"session_id": "web-h1", **({"after": after} if after else {})}
                r = await client.get("/v1/chat/messages", params=params, headers=key)
                assert r.status_code == 200, r.text
                return r.json()

            asked = await say("i want to talk to a real person please")
            assert asked["handled_by"] == "human" and asked["intent"] == "human_handoff"
            await say("hi", session_id="web-h2")
            async with sessions() as session:
                listed = await cc.handoffs(session, tenant_id)
            assert "i want to talk to a real person please" in listed.markdown and "| web |" in listed.markdown
            assert listed.markdown.count("| web |") == 1, "only the conversation that asked for a person waits"
            conversation_id = uuid.UUID(listed.markdown.splitlines()[2].split("|")[1].strip())

            async with sessions() as session:
                with pytest.raises(handoff.HandoffError, match="no conversation"):
                    await handoff.set_handler(session, uuid.uuid4(), conversation_id, human=True, operator="o")
                await handoff.set_handler(session, tenant_id, conversation_id, human=True, operator="operator:o@x")
                await session.commit()

            held = await say("where is my parcel? order 10001")
            assert held["reply"] == HUMAN_HOLD_REPLY and held["tools"] == [] and held["handled_by"] == "human"
            assert (await polled(asked["message_id"])) == {"handled_by": "human", "messages": []}

            async with sessions() as session:
                with pytest.raises(handoff.HandoffError, match="write the reply"):
                    await handoff.reply_as_human(session, None, tenant_id, conversation_id, " ", operator="o")
                sent = await handoff.reply_as_human(
                    session,
                    None,
                    tenant_id,
                    conversation_id,
                    "Hi, Sam here. It left our warehouse today.",
                    operator="operator:o@x",
                )
            seen = await polled(asked["message_id"])
            assert [msg["content"] for msg in seen["messages"]] == ["Hi, Sam here. It left our warehouse today."]
            assert (await polled(str(sent.id)))["messages"] == [], "a reply is fetched once"
            other = await client.get("/v1/chat/messages", params={"session_id": "web-h2"}, headers=key)
            assert other.json() == {"handled_by": "bot", "messages": []}, "another shopper sees nothing of it"

            async with sessions() as session:
                await handoff.set_handler(session, tenant_id, conversation_id, human=False, operator="operator:o@x")
                await session.commit()
                with pytest.raises(handoff.HandoffError, match=r"take conversation .* over first"):
                    await handoff.reply_as_human(session, None, tenant_id, conversation_id, "late", operator="o")
            assert (await polled(str(sent.id)))["handled_by"] == "bot"
            back = await say("do you have wool socks?")
            assert back["handled_by"] == "bot" and back["reply"] != HUMAN_HOLD_REPLY and back["tools"]

    async with sessions() as session:
        actions = (
            (
                await session.execute(
                    select(m.AuditEvent.action)
                    .where(m.AuditEvent.subject == str(conversation_id))
                    .order_by(m.AuditEvent.id)
                )
            )
            .scalars()
            .all()
        )
    assert actions == ["conversation.taken_over", "conversation.human_reply", "conversation.released"]
