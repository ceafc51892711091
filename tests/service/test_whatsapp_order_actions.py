"""A return on WhatsApp with a model: the model calls the same tool through the graph, the shopper gets Yes and No as
reply buttons, and the tap on Yes (a later message that says yes) is what records the return."""

# ruff: noqa: F811 — tests take the fixtures imported from the channel's main tests as arguments

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from evals.llm_server import ScriptedLLMServer, last_tool_result, reply, respond, tool_call
from hub.db import models as m
from hub.settings import Settings
from tests.fake_graph_api import FakeGraphApi
from tests.service.test_whatsapp import Channel, _value, channel, graph, inbound  # noqa: F401 — its fixtures

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
def wa_settings(app_settings: Settings, graph: FakeGraphApi, llm: ScriptedLLMServer) -> Settings:
    return app_settings.model_copy(
        update={
            "whatsapp_api_base": graph.base_url,
            "llm_base_url": llm.base_url,
            "llm_api_key": SecretStr("k"),
            "llm_model": "model-a",
        }
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_model_proposes_the_return_and_the_tap_on_yes_records_it(
    channel: Channel, llm: ScriptedLLMServer
) -> None:
    demo = channel.demo
    args: dict[str, Any] = {
        "order_number": demo.delivered_order_id,
        "email_or_phone": demo.delivered_order_email,
        "reason": "damaged",
    }

    def ask_to_confirm(messages: list[dict]) -> Any:
        result = last_tool_result(messages)
        assert result["outcome"] == "needs_confirmation", result
        return reply(f"I'll ask the shop to take back your item from {result['order_number']}. Shall I go ahead?")

    llm.enqueue(tool_call("start_return", args), respond(ask_to_confirm))
    await channel.say(f"my order {demo.delivered_order_id} arrived torn, {demo.delivered_order_email}, return it")
    [proposal] = channel.graph.sends
    assert proposal.body["interactive"]["type"] == "button"
    buttons = [b["reply"] for b in proposal.body["interactive"]["action"]["buttons"]]
    assert buttons == [{"id": "yes", "title": "Yes, go ahead"}, {"id": "no", "title": "No"}]

    def recorded(messages: list[dict]) -> Any:
        result = last_tool_result(messages)
        return reply(f"Your return is requested: reference {result['reference']}. The shop will review it.")

    llm.enqueue(tool_call("start_return", {**args, "confirm": True}), respond(recorded))
    tap = inbound(demo, "interactive_button_reply")
    _value(tap)["messages"][0]["interactive"]["button_reply"] = buttons[0]
    await channel.deliver(tap)
    await channel.settled()
    async with channel.sessions() as session:
        request = (
            await session.execute(select(m.OrderRequest).where(m.OrderRequest.status == m.RequestStatus.REQUESTED))
        ).scalar_one()
    answer = channel.graph.sends[-1]
    assert answer.body["type"] == "text" and request.reference in answer.body["text"]["body"]
    assert request.reason == "damaged" and request.channel == "whatsapp"
