"""Golden shopper conversations (`evals/golden/conversations.yaml`) through `POST /v1/chat`, in both engines.

Every intent of the taxonomy and every engagement tool appears; the deterministic engine must answer each
turn as written, the graph must accept a scripted model's grounded tool use and reply as the LLM answer, and
with every model call failing (HTTP 503) every turn must still get the deterministic engine's answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from evals.llm_server import Reply, ScriptedLLMServer, error, last_tool_result, reply, respond, tool_call
from hub.db import models as m
from hub.prompting.outputs import Intent
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from service.app import create_app
from tests.agent_harness import fill
from tools.engagement import ENGAGEMENT_TOOLS

GOLDEN = Path(__file__).resolve().parents[2] / "evals" / "golden" / "conversations.yaml"
CONVERSATIONS: list[dict[str, Any]] = yaml.safe_load(GOLDEN.read_text())


def test_the_golden_conversations_cover_every_intent_and_every_engagement_tool() -> None:
    turns = [turn for c in CONVERSATIONS for turn in c["turns"]]
    assert {turn["intent"] for turn in turns} == {i.value for i in Intent}
    used = {t for turn in turns for t in turn["deterministic"]["tools"]} | {
        call["tool"] for turn in turns for call in turn["llm"]["calls"]
    }
    assert used == {spec.name for spec in ENGAGEMENT_TOOLS}
    assert len({c["id"] for c in CONVERSATIONS}) == len(CONVERSATIONS)


@pytest.fixture(scope="module")
def llm() -> AsyncIterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture(params=["deterministic", "llm", "outage"])
async def chat(
    request: pytest.FixtureRequest, app_settings: Settings, engine: AsyncEngine, llm: ScriptedLLMServer
) -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    settings = app_settings
    if request.param in ("llm", "outage"):
        llm.reset()
        llm.default = error(503) if request.param == "outage" else reply("unscripted")
        update = {"llm_base_url": llm.base_url, "llm_api_key": SecretStr("k"), "llm_model": "scripted"}
        settings = app_settings.model_copy(update=update)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            yield request.param, client


def script(llm: ScriptedLLMServer, turn: dict[str, Any], names: dict[str, Any]) -> None:
    calls = fill(turn["llm"]["calls"], **names)
    template = turn["llm"]["reply"]

    def answer(messages: list[dict[str, Any]]) -> Reply:
        return reply(template.format(r=last_tool_result(messages), **names))

    llm.enqueue(
        *[tool_call(c["tool"], c["args"]) for c in calls], respond(answer) if calls else reply(fill(template, **names))
    )


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=lambda c: c["id"])
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_golden_conversation(
    conversation: dict[str, Any],
    chat: tuple[str, httpx.AsyncClient],
    demo: DemoCredentials,
    session: AsyncSession,
    llm: ScriptedLLMServer,
) -> None:
    engine_name, client = chat
    product = (await session.execute(select(m.Product).where(m.Product.sku == demo.sample_sku))).scalar_one()
    names = {"demo": demo, "product": product}
    session_id = f"golden-{conversation['id']}"
    for number, turn in enumerate(conversation["turns"], 1):
        where = f"{conversation['id']} turn {number} ({engine_name})"
        if engine_name == "llm":
            script(llm, turn, names)
        r = await client.post(
            "/v1/chat",
            json={"session_id": session_id, "message": fill(turn["say"], **names)},
            headers={"X-Hub-Key": demo.storefront_key},
        )
        assert r.status_code == 200, (where, r.text)
        out = r.json()
        assert out["engine"] == ("llm" if engine_name == "llm" else "deterministic"), (where, out)
        intent = turn.get("llm_intent", turn["intent"]) if engine_name == "llm" else turn["intent"]
        if intent is not None:
            assert out["intent"] == intent, where
        if engine_name in ("deterministic", "outage"):  # a total model outage answers every turn as the engine would
            expected = turn["deterministic"]
            assert out["tools"] == expected["tools"], where
            for phrase in fill(expected["reply_has"], **names):
                assert phrase in out["reply"], (where, phrase, out["reply"])
        else:
            assert out["tools"] == [c["tool"] for c in turn["llm"]["calls"]], where
            assert not llm.pending, (where, "the graph made fewer model calls than scripted")
            assert out["prompt_version"] == "customer_reply@2.2.0", where
