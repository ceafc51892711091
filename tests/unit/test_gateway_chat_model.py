"""The agent's chat model: tool calls and streams through the same guards, retries and ledger."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

from evals.llm_server import (
    ScriptedLLMServer,
    corrupt_stream,
    error,
    reply,
    slow_first_token,
    stall,
    tool_call,
    truncated_stream,
)
from hub.gateway.chat_model import GatewayChatModel, ModelUnavailable
from hub.gateway.guards import Refusal
from hub.gateway.transport import StreamBroken
from hub.redis_conn import EmbeddedRedis
from tests.gateway_harness import Harness, fast_config, gateway_harness


@tool
def order_status(order_id: str, email: str) -> str:
    """Look up an order by number after checking the email on it."""
    return "shipped"


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
async def h(tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer) -> AsyncIterator[Harness]:
    config = fast_config(llm.base_url, feature_models={"agent": ["model-a", "model-b"]})
    async with gateway_harness(tmp_path, embedded_redis.url, config) as harness:
        yield harness


def chat(h: Harness) -> GatewayChatModel:
    return GatewayChatModel(gateway=h.gateway, ctx=h.ctx(), feature="agent", prompt_id="agent", prompt_version="1.0.0")


QUESTION = [HumanMessage("Where is order A-10001? My email is jane@example.com")]


async def test_tool_call_reaches_the_agent_and_is_billed(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(tool_call("order_status", {"order_id": "A-10001", "email": "jane@example.com"}, usage=(300, 20)))
    model = chat(h)
    message = await model.bind_tools([order_status]).ainvoke(QUESTION)
    assert message.tool_calls[0]["name"] == "order_status"
    assert message.tool_calls[0]["args"] == {"order_id": "A-10001", "email": "jane@example.com"}
    assert llm.requests[0].body["tools"][0]["function"]["name"] == "order_status"
    [row] = await h.usage(model.last_run.ctx.request_id)
    assert (row.feature, row.model, row.outcome, row.input_tokens, row.output_tokens) == (
        "agent",
        "model-a",
        "ok",
        300,
        20,
    )
    assert (row.prompt_id, row.prompt_version) == ("agent", "1.0.0")


async def test_an_answer_without_usage_is_billed_for_the_tool_definitions_it_was_sent_too(
    h: Harness, llm: ScriptedLLMServer
) -> None:
    llm.enqueue(reply("It shipped.", usage=False), reply("It shipped.", usage=False))
    bare, with_tools = chat(h), chat(h)
    await bare.ainvoke(QUESTION)
    await with_tools.bind_tools([order_status]).ainvoke(QUESTION)
    [plain] = await h.usage(bare.last_run.ctx.request_id)
    [tooled] = await h.usage(with_tools.last_run.ctx.request_id)
    assert plain.tokens_estimated and tooled.tokens_estimated
    assert tooled.input_tokens > plain.input_tokens + 20, "the order_status definition is counted as input"


async def test_broken_tool_arguments_are_reasked(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(
        tool_call("order_status", '{"order_id": "A-10001", "email": '),
        tool_call("order_status", {"order_id": "A-10001", "email": "jane@example.com"}),
    )
    model = chat(h)
    message = await model.bind_tools([order_status]).ainvoke(QUESTION)
    assert message.tool_calls[0]["args"]["order_id"] == "A-10001"
    assert "not valid JSON" in llm.requests[1].messages[-1]["content"]
    assert [r.outcome for r in await h.usage(model.last_run.ctx.request_id)] == ["invalid_output", "ok"]


async def test_a_reply_cut_off_at_the_token_limit_is_reasked(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(reply("Your order A-10001 shipped yesterday and", finish_reason="length"), reply("It shipped."))
    model = chat(h)
    message = await model.ainvoke(QUESTION)
    assert message.content == "It shipped."
    assert "cut off at the token limit" in llm.requests[1].messages[-1]["content"]
    assert [r.outcome for r in await h.usage(model.last_run.ctx.request_id)] == ["invalid_output", "ok"]


async def test_stream_assembles_and_bills_the_usage_chunk(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(reply("Your order A-10001 shipped yesterday with UPS.", usage=(120, 11)))
    model = chat(h)
    chunks = [c async for c in model.astream(QUESTION)]
    assert "".join(c.content for c in chunks) == "Your order A-10001 shipped yesterday with UPS."
    assert llm.requests[0].body["stream"] is True
    [row] = await h.usage(model.last_run.ctx.request_id)
    assert (row.outcome, row.input_tokens, row.output_tokens, row.tokens_estimated) == ("ok", 120, 11, False)


async def test_a_429_before_the_first_token_is_retried_invisibly(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(error(429, retry_after=0.2), slow_first_token(0.3, "Hello there"))
    model = chat(h)
    text = "".join([c.content async for c in model.astream(QUESTION)])
    assert text == "Hello there"
    assert [r.outcome for r in await h.usage(model.last_run.ctx.request_id)] == ["retryable_error", "ok"]


@pytest.mark.parametrize("broken", [truncated_stream("Your order is on its way"), corrupt_stream("Your order")])
async def test_a_stream_that_breaks_after_output_is_a_failure(h: Harness, llm: ScriptedLLMServer, broken) -> None:
    llm.enqueue(broken)
    model = chat(h)
    with pytest.raises(StreamBroken):
        [c async for c in model.astream(QUESTION)]
    rows = await h.usage(model.last_run.ctx.request_id)
    assert [r.outcome for r in rows] == ["retryable_error", "fallback"]


async def test_no_model_means_the_graph_gets_model_unavailable(tmp_path: Path, embedded_redis: EmbeddedRedis) -> None:
    async with gateway_harness(tmp_path, embedded_redis.url, fast_config(None)) as h:
        with pytest.raises(ModelUnavailable) as err:
            await chat(h).ainvoke(QUESTION)
        assert err.value.reason == Refusal.NO_MODEL
        assert [r.outcome for r in await h.usage()] == ["fallback"]


async def test_a_stream_stalled_before_content_hits_the_read_timeout_and_is_retried(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer
) -> None:
    config = fast_config(llm.base_url, read_timeout_s=0.3, feature_models={"agent": ["model-a"]})
    async with gateway_harness(tmp_path, embedded_redis.url, config) as h:
        llm.enqueue(stall(3, "late"), reply("on time"))
        model = chat(h)
        assert "".join([c.content async for c in model.astream(QUESTION)]) == "on time"
        rows = await h.usage(model.last_run.ctx.request_id)
        assert [r.outcome for r in rows] == ["retryable_error", "ok"] and rows[0].error.startswith("timeout")
