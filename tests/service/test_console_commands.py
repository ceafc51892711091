"""Console commands that need no model: /explain a fallback, /handoffs with take-over, /cost, /prompts."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_ui import console_commands as cc
from evals.llm_server import ScriptedLLMServer, reply, tool_call
from hub.db.engine import session_factory
from hub.prompting.registry import PromptRegistry, default_prompts_dir
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from tests.agent_harness import running, shopper_chat, with_model


@pytest.fixture
def llm() -> ScriptedLLMServer:
    with ScriptedLLMServer() as server:
        yield server


async def test_explain_shows_every_rung_of_a_reply_that_fell_back(
    app_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, llm: ScriptedLLMServer
) -> None:
    llm.enqueue(tool_call("search_products", {"query": "hoodie", "max_price": 80}))
    llm.default = reply("The Heavyweight Oversized Hoodie is only $9.99 today!")
    async with running(with_model(app_settings, llm)) as app:
        out = await shopper_chat(app, engine, demo).say("any hoodies under $80?")
        await app.state.resources.gateway.ledger.flush()
    tenant_id = uuid.UUID(demo.tenant_id)
    async with session_factory(engine)() as session:
        answer = await cc.explain(session, tenant_id, str(out.message_id))
        other_shop = await cc.explain(session, uuid.uuid4(), str(out.message_id))
    text = answer.markdown
    assert f"message {out.message_id}" in text and "prompt customer_reply@2.2.0" in text
    assert "tool search_products" in text and "answered with engine deterministic" in text
    assert text.count("the reply validator rejected the draft") == 3 and "$9.99" in text
    assert "fell back to the deterministic engine: validation" in text
    assert other_shop.markdown.startswith("No message"), "another tenant's message is not explained"

    async with session_factory(engine)() as session:  # no rollup has run: today's spend is read from the ledger
        spend = await cc.cost(session, tenant_id, "week")
        bad = await cc.cost(session, tenant_id, "year")
    assert (
        "customer_reply" in spend.markdown
        and "1 requests, 4 model attempts" in spend.markdown
        and spend.figure is not None
    )
    assert "computed live from the ledger" in spend.markdown
    assert bad.markdown.startswith("Say `/cost day`")


async def test_prompts_lists_the_version_in_use_per_use_case(engine: AsyncEngine, demo: DemoCredentials) -> None:
    registry = PromptRegistry.load(default_prompts_dir())
    async with session_factory(engine)() as session:
        answer = await cc.prompts(session, uuid.UUID(demo.tenant_id), registry)
    assert "| customer_reply | 2.2.0 (default) | 2.2.0 | – |" in answer.markdown
    assert "| operator_agent | 1.1.0 (default) | 1.1.0 | – |" in answer.markdown
