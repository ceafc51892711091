"""Golden operator conversations (`evals/golden/operator.yaml`) through the graph, with and without a model.

Every CRM, SEO and photography tool runs; sensitive ones pause for the operator and run only when approved.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from evals.llm_server import Reply, ScriptedLLMServer, error, last_tool_result, reply, respond, tool_call
from hub.db import models as m
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from tests.agent_harness import fill, last_result, operator_chat, running, with_model
from tools.crm import CRM_TOOLS
from tools.photography import PHOTO_TOOLS
from tools.seo import SEO_TOOLS

GOLDEN = Path(__file__).resolve().parents[2] / "evals" / "golden" / "operator.yaml"
CONVERSATIONS: list[dict[str, Any]] = yaml.safe_load(GOLDEN.read_text())


def test_the_operator_golden_set_covers_every_operator_tool() -> None:
    used = {call["tool"] for c in CONVERSATIONS for turn in c["turns"] for call in turn["llm"]["calls"]}
    assert used == {spec.name for spec in [*CRM_TOOLS, *SEO_TOOLS, *PHOTO_TOOLS]}


@pytest.fixture(scope="module")
def llm() -> AsyncIterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


def script(llm: ScriptedLLMServer, turn: dict[str, Any], names: dict[str, Any]) -> None:
    calls = fill(turn["llm"]["calls"], **names)
    template = turn["llm"]["reply"]

    def answer(messages: list[dict[str, Any]]) -> Reply:
        return reply(template.format(r=last_tool_result(messages), **names))

    inner = [error(400, "scripted: the tool's own model call fails")] * turn["llm"].get("inner", 0)
    llm.enqueue(*[tool_call(c["tool"], c["args"]) for c in calls], *inner, respond(answer))


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=lambda c: c["id"])
@pytest.mark.parametrize("mode", ["deterministic", "llm"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_golden_operator_conversation(
    conversation: dict[str, Any],
    mode: str,
    app_settings: Settings,
    engine: AsyncEngine,
    demo: DemoCredentials,
    session: AsyncSession,
    llm: ScriptedLLMServer,
) -> None:
    llm.reset()
    product = (await session.execute(select(m.Product).where(m.Product.sku == demo.sample_sku))).scalar_one()
    customer = (
        await session.execute(select(m.Customer).where(m.Customer.email == demo.sample_order_email))
    ).scalar_one()
    names: dict[str, Any] = {"demo": demo, "product": product, "customer": customer, "prev": {}}
    settings = with_model(app_settings, llm) if mode == "llm" else app_settings
    async with running(settings) as app:
        chat = await operator_chat(app, engine, demo, f"golden-{conversation['id']}")
        for number, turn in enumerate(conversation["turns"], 1):
            where = f"{conversation['id']} turn {number} ({mode})"
            if mode == "llm":
                script(llm, turn, names)
            out = await chat.say(fill(turn["command"] if mode == "deterministic" else turn["ask"], **names))
            if "confirm" in turn:
                planned = [c["tool"] for c in turn["llm"]["calls"]]
                assert [a.tool for a in out.awaiting] == planned, (where, out.reply)
                assert out.tools == [], (where, "nothing runs before the operator answers")
                out = await chat.decide(approved=turn["confirm"] == "approve", note="golden")
            assert out.awaiting == [] and out.tools == turn["tools"], (where, out.reply)
            assert out.engine == mode, (where, out.reply)
            if mode == "deterministic":
                for phrase in fill(turn["reply_has"], **names):
                    assert phrase in out.reply, (where, phrase, out.reply)
            else:
                assert not llm.pending, (where, "fewer model calls than scripted")
                assert out.prompt_version == "operator_agent@1.1.0", where
            names["prev"] = await last_result(engine, out) or names["prev"]
