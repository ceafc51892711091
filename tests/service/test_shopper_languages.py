"""Shoppers write in their own language: each message's language is told, kept on the conversation, and the reply,
the chat response and the trace carry the language the shop answers in. Feedback a shopper gives is listed for the
team, as the reply says."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from chat_ui import console_commands as cc
from hub.db import models as m
from hub.db.engine import session_factory
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from hub.tenancy import admin
from tests.agent_harness import running, shopper_chat
from tools.context import Audience, ToolContext
from tools.engagement import PolicyAnswerInput, policy_answer


async def _conversation(engine: AsyncEngine, ref: str) -> m.Conversation:
    async with session_factory(engine)() as session:
        return (await session.execute(select(m.Conversation).where(m.Conversation.external_ref == ref))).scalar_one()


async def test_the_reply_language_follows_the_shopper_and_short_messages_keep_it(
    app_settings: Settings, engine: AsyncEngine, demo: DemoCredentials
) -> None:
    async with running(app_settings) as app:
        chat = shopper_chat(app, engine, demo, ref="web-es")
        spanish = await chat.say("hola, ¿cuánto tarda el envío a Valencia?")
        short = await chat.say("ok")
        english = await chat.say("And how long do I have to send something back?")
    assert (spanish.language, short.language, english.language) == ("es", "es", "en")
    assert (await _conversation(engine, "web-es")).language == "en"
    async with session_factory(engine)() as session:
        roots = (
            await session.execute(
                select(m.TraceSpan.attributes).where(
                    m.TraceSpan.trace_id == spanish.trace_id, m.TraceSpan.parent_span_id.is_(None)
                )
            )
        ).scalar_one()
        audit = (
            await session.execute(select(m.AuditEvent.data).where(m.AuditEvent.subject == str(spanish.message_id)))
        ).scalar_one()
    assert (roots["language"], roots["message_language"], audit["language"]) == ("es", "es", "es")


async def test_a_shop_that_speaks_only_english_answers_a_german_shopper_in_english(
    app_settings: Settings, engine: AsyncEngine, demo: DemoCredentials
) -> None:
    async with session_factory(engine)() as session:
        tenant = await admin.resolve_tenant(session, demo.tenant_id)
        await admin.update_tenant_settings(session, tenant, {"languages": ["en"], "default_language": "en"})
        await session.commit()
    async with running(app_settings) as app:
        out = await shopper_chat(app, engine, demo, ref="web-de").say("Wann kommt meine Bestellung an?")
    assert out.language == "en"


async def test_feedback_the_assistant_says_it_passed_on_is_listed_for_the_team(
    app_settings: Settings, engine: AsyncEngine, demo: DemoCredentials
) -> None:
    words = "Just wanted to say the linen shirt I got is lovely, great quality and fast delivery"
    async with running(app_settings) as app:
        out = await shopper_chat(app, engine, demo, ref="web-fb").say(words)
    assert out.intent == "feedback" and "passed it on" in out.reply
    async with session_factory(engine)() as session:
        listed = await cc.feedback(session, uuid.UUID(demo.tenant_id))
        other_shop = await cc.feedback(session, uuid.uuid4())
    assert words in listed.markdown and "| web |" in listed.markdown
    assert other_shop.markdown == "No feedback from shoppers yet."


async def test_a_policy_question_in_another_language_finds_the_english_page_by_its_title(
    session: AsyncSession, demo: DemoCredentials
) -> None:
    """The passages are long and English, the questions short and not: the page's title and heading decide when
    neither the words nor the passage's meaning is sure, and only when one page clearly leads."""
    ctx = ToolContext(
        session=session, tenant_id=uuid.UUID(demo.tenant_id), audience=Audience.CUSTOMER, channel=m.Channel.WEB
    )
    for question in ("quiero devolver unas zapatillas, ¿cómo lo hago?", "Ich möchte mein Geld zurück",
                     "je voudrais retourner une robe", "vorrei un rimborso"):  # fmt: skip
        answer = await policy_answer(ctx, PolicyAnswerInput(question=question, max_passages=1))
        assert [p.title for p in answer.passages] == ["Returns and refunds"], question
    for unrelated in ("¿quién ganó el partido ayer?", "wie ist das Wetter morgen", "tell me a joke"):
        assert not (await policy_answer(ctx, PolicyAnswerInput(question=unrelated, max_passages=1))).found, unrelated
