"""Quality between eval runs: a judge grades a sample of production replies in the background, billed to the shop's
`evals` feature, and the console shows the trend per use case and language."""

# ruff: noqa: F811 — tests take the fixtures imported from the chat API tests as arguments

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_ui import console_commands as commands
from evals.llm_server import ScriptedLLMServer, reply
from evals.online import judge_turn
from hub.db import models as m
from hub.db.engine import session_factory
from hub.quality import maybe_judge
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from tests.service.test_chat_api import chat, chat_with_model, llm, say  # noqa: F401 — its fixtures, shared

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def app_of(client: httpx.AsyncClient) -> FastAPI:
    transport = client._transport  # the ASGI app the fixture's client talks to
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    assert isinstance(app, FastAPI)
    return app


async def test_a_sampled_reply_is_graded_through_the_gateway_and_billed_to_the_shop(
    chat_with_model: httpx.AsyncClient, demo: DemoCredentials, llm: ScriptedLLMServer, engine: AsyncEngine
) -> None:
    llm.enqueue(reply("Hello! I can help with products, orders and returns. What are you looking for?"))
    out = await say(chat_with_model, demo.storefront_key, "q-1", "hello there")
    assert out["engine"] == "llm"
    verdict = {"grounded": True, "score": 0.4, "issues": ["does not greet by the shop's name"], "verdict": "fail"}
    llm.enqueue(reply(json.dumps(verdict)))
    resources = app_of(chat_with_model).state.resources
    tenant_id, message_id = uuid.UUID(demo.tenant_id), uuid.UUID(out["message_id"])
    graded = await judge_turn(resources.sessions, resources.gateway, tenant_id, message_id)
    assert graded is not None and graded.score == 0.4 and graded.language == "en" and graded.engine == "llm"
    judged = llm.requests[-1].messages
    assert "hello there" in json.dumps(judged), "the judge saw the shopper's message"
    assert await judge_turn(resources.sessions, resources.gateway, tenant_id, message_id) is None, "graded once"
    sessions = session_factory(engine)
    for _ in range(100):  # the ledger is written in the background
        async with sessions() as session:
            billed = (
                await session.execute(
                    select(m.UsageRecord.feature).where(
                        m.UsageRecord.tenant_id == tenant_id, m.UsageRecord.feature == "evals"
                    )
                )
            ).all()
        if billed:
            break
        await asyncio.sleep(0.05)
    assert billed, "the judge's call is billed to the shop's evals feature"
    async with sessions() as session:
        shown = (await commands.quality(session, tenant_id)).markdown
    assert "| customer_reply | en | 0.40 (1) |" in shown


async def test_the_sample_takes_its_share_only_with_a_model(
    chat: httpx.AsyncClient, demo: DemoCredentials, app_settings: Settings
) -> None:
    jobs = app_of(chat).state.resources.jobs
    tenant_id, message_id = uuid.UUID(demo.tenant_id), uuid.uuid4()
    with_model = app_settings.model_copy(
        update={"llm_base_url": "http://127.0.0.1:9/v1", "llm_model": "m", "eval_sample_percent": 25.0}
    )
    assert await maybe_judge(jobs, with_model, tenant_id, message_id, draw=lambda: 0.2)
    assert not await maybe_judge(jobs, with_model, tenant_id, message_id, draw=lambda: 0.3)
    no_model = app_settings.model_copy(update={"eval_sample_percent": 100.0})
    assert not await maybe_judge(jobs, no_model, tenant_id, message_id, draw=lambda: 0.0)
    assert not await maybe_judge(None, with_model, tenant_id, message_id, draw=lambda: 0.0)


async def test_the_console_shows_this_week_against_last_per_language(
    chat: httpx.AsyncClient, demo: DemoCredentials, engine: AsyncEngine
) -> None:
    tenant_id = uuid.UUID(demo.tenant_id)
    await say(chat, demo.storefront_key, "q-2", "hola")
    await say(chat, demo.storefront_key, "q-3", "hi")
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    async with sessions() as session:
        replies = (
            await session.execute(
                select(m.Message.id).where(m.Message.tenant_id == tenant_id, m.Message.role == "assistant")
            )
        ).scalars()
        ids = list(replies)
        for i, (language, score, days_ago) in enumerate([("es", 0.9, 1), ("en", 0.5, 2)]):
            session.add(
                m.TurnJudgement(
                    tenant_id=tenant_id,
                    message_id=ids[i],
                    use_case="customer_reply",
                    language=language,
                    score=score,
                    grounded=True,
                    created_at=now - timedelta(days=days_ago),
                )
            )
        await session.commit()
        shown = (await commands.quality(session, tenant_id)).markdown
        other = (await commands.quality(session, uuid.uuid4())).markdown
    assert "| customer_reply | es | 0.90 (1) | – |" in shown and "| customer_reply | en | 0.50 (1) |" in shown
    assert "No sampled replies" in other, "another shop sees none of these"
