"""The scripted LLM server behaves like a real OpenAI provider to the real `openai` SDK."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx2
import openai
import pytest

from evals.llm_server import (
    ScriptedLLMServer,
    corrupt_stream,
    drop,
    error,
    reply,
    slow_first_token,
    stall,
    tool_call,
    truncated_stream,
)
from hub.gateway import tokens

pytestmark = pytest.mark.timeout(20)

USER = [{"role": "user", "content": "Where is my order A-10001?"}]


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
async def client(llm_server: ScriptedLLMServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=llm_server.base_url, api_key="test", max_retries=0) as client:
        yield client


async def test_reply_returns_content_echoes_the_model_and_counts_usage(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI
) -> None:
    llm_server.enqueue(reply("It shipped with UPS yesterday."), reply("Exact.", usage=(120, 7)))

    first = await client.chat.completions.create(model="gpt-test", messages=USER)
    second = await client.chat.completions.create(model="other-model", messages=USER)

    assert first.model == "gpt-test"
    assert first.choices[0].message.content == "It shipped with UPS yesterday."
    assert first.choices[0].finish_reason == "stop"
    assert first.usage is not None
    prompt_tokens = tokens.count_messages("gpt-test", USER)  # what a provider would bill for the messages
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (prompt_tokens, 5)
    assert first.usage.total_tokens == prompt_tokens + 5
    assert second.model == "other-model"
    assert second.usage is not None
    assert (second.usage.prompt_tokens, second.usage.completion_tokens, second.usage.total_tokens) == (120, 7, 127)


async def test_tool_definitions_count_as_prompt_tokens(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI
) -> None:
    tool = {
        "type": "function",
        "function": {"name": "order_status", "description": "Look up an order.", "parameters": {"type": "object"}},
    }
    plain = await client.chat.completions.create(model="gpt-test", messages=USER)
    tooled = await client.chat.completions.create(model="gpt-test", messages=USER, tools=[tool])
    assert plain.usage is not None and tooled.usage is not None
    assert tooled.usage.prompt_tokens == plain.usage.prompt_tokens + tokens.count_tools("gpt-test", [tool])


async def test_reply_without_usage_has_no_usage_block(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI
) -> None:
    llm_server.enqueue(reply("No meter here.", usage=False, finish_reason="length"))

    completion = await client.chat.completions.create(model="gpt-test", messages=USER)

    assert completion.usage is None
    assert completion.choices[0].finish_reason == "length"


async def test_tool_call_sends_dict_arguments_as_json_and_broken_strings_verbatim(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI
) -> None:
    llm_server.enqueue(
        tool_call("order_status", {"order_id": "A-10001"}, call_id="call_1"),
        tool_call("order_status", '{"order_id": "A-1'),
    )

    good = await client.chat.completions.create(model="gpt-test", messages=USER)
    broken = await client.chat.completions.create(model="gpt-test", messages=USER)

    assert good.choices[0].finish_reason == "tool_calls"
    assert good.choices[0].message.content is None
    (call,) = good.choices[0].message.tool_calls or []
    assert call.id == "call_1"
    assert call.function.name == "order_status"
    assert json.loads(call.function.arguments) == {"order_id": "A-10001"}
    (broken_call,) = broken.choices[0].message.tool_calls or []
    assert broken_call.id.startswith("call_")
    assert broken_call.function.arguments == '{"order_id": "A-1'


async def test_streamed_reply_assembles_to_the_content_with_finish_reason_and_usage_chunk(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI
) -> None:
    llm_server.enqueue(reply("Your parcel is  on its way. ", usage=(30, 6)))

    stream = await client.chat.completions.create(
        model="gpt-test", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]

    content_chunks = [chunk for chunk in chunks if chunk.choices]
    assert len(content_chunks) > 2
    assert content_chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in content_chunks) == "Your parcel is  on its way. "
    assert [c.choices[0].finish_reason for c in content_chunks][-2:] == [None, "stop"]
    assert {chunk.model for chunk in chunks} == {"gpt-test"}
    assert len({chunk.id for chunk in chunks}) == 1
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage is not None
    assert (usage_chunk.usage.prompt_tokens, usage_chunk.usage.completion_tokens) == (30, 6)


async def test_stream_has_no_usage_chunk_unless_asked(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI
) -> None:
    stream = await client.chat.completions.create(model="gpt-test", messages=USER, stream=True)
    chunks = [chunk async for chunk in stream]

    assert all(chunk.choices and chunk.usage is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_streamed_tool_call_sends_id_and_name_first_then_argument_fragments(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI
) -> None:
    arguments = {"order_id": "A-10001", "email_or_phone": "jane@alpha.example.com"}
    llm_server.enqueue(tool_call("order_status", arguments, call_id="call_7"))

    stream = await client.chat.completions.create(model="gpt-test", messages=USER, stream=True)
    calls = [c.choices[0].delta.tool_calls[0] async for c in stream if c.choices and c.choices[0].delta.tool_calls]

    assert (calls[0].id, calls[0].function and calls[0].function.name) == ("call_7", "order_status")
    assert all(call.id is None for call in calls[1:])
    assert len(calls) > 2
    assert json.loads("".join(call.function.arguments or "" for call in calls if call.function)) == arguments


async def test_rate_limit_surfaces_retry_after(llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI) -> None:
    llm_server.enqueue(
        error(429, "Rate limit reached for requests", retry_after=2, code="rate_limit_exceeded"),
        error(429, retry_after=0.5),
    )

    with pytest.raises(openai.RateLimitError) as whole_seconds:
        await client.chat.completions.create(model="gpt-test", messages=USER)
    with pytest.raises(openai.RateLimitError) as fraction:
        await client.chat.completions.create(model="gpt-test", messages=USER, stream=True)

    assert whole_seconds.value.response.headers["retry-after"] == "2"
    assert whole_seconds.value.code == "rate_limit_exceeded"
    assert "Rate limit reached" in whole_seconds.value.message
    assert fraction.value.response.headers["retry-after"] == "0.5"


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_surface_as_internal_server_error(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI, status: int
) -> None:
    llm_server.enqueue(error(status, "The server had an error"))

    with pytest.raises(openai.InternalServerError) as raised:
        await client.chat.completions.create(model="gpt-test", messages=USER)

    assert raised.value.status_code == status
    assert "retry-after" not in raised.value.response.headers
    assert raised.value.body == {
        "message": "The server had an error",
        "type": "server_error",
        "param": None,
        "code": None,
    }


@pytest.mark.parametrize("stream", [False, True])
async def test_dropped_connection_is_a_connection_error(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI, stream: bool
) -> None:
    llm_server.enqueue(drop())

    with pytest.raises(openai.APIConnectionError) as raised:
        await client.chat.completions.create(model="gpt-test", messages=USER, stream=stream)

    assert not isinstance(raised.value, openai.APITimeoutError)
    assert isinstance(raised.value.__cause__, httpx2.RemoteProtocolError)
    answer = await client.chat.completions.create(model="gpt-test", messages=USER)
    assert answer.choices[0].message.content == "ok"


async def test_stall_past_the_client_timeout_is_a_timeout_error(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI
) -> None:
    llm_server.enqueue(stall(2))

    with pytest.raises(openai.APITimeoutError):
        await client.chat.completions.create(model="gpt-test", messages=USER, timeout=0.3)


async def test_stalled_stream_sends_its_first_chunk_then_times_out_the_read(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI
) -> None:
    llm_server.enqueue(stall(2, "Let me check that order."))

    stream = await client.chat.completions.create(model="gpt-test", messages=USER, stream=True, timeout=0.3)
    received: list[str] = []
    with pytest.raises(httpx2.ReadTimeout):
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")

    assert "".join(received) == "Let"


async def test_slow_first_token_sends_headers_at_once_and_the_first_chunk_later(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI
) -> None:
    llm_server.enqueue(slow_first_token(0.5, "Finally here."))

    stream = await client.chat.completions.create(model="gpt-test", messages=USER, stream=True)
    headers_at = time.monotonic()
    first = await anext(aiter(stream))
    first_chunk_after = time.monotonic() - headers_at
    rest = [chunk async for chunk in stream]

    assert first_chunk_after >= 0.4
    assert "".join(c.choices[0].delta.content or "" for c in [first, *rest]) == "Finally here."


async def test_truncated_stream_yields_chunks_but_no_finish_reason(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI
) -> None:
    llm_server.enqueue(truncated_stream("Half an answer"))

    stream = await client.chat.completions.create(
        model="gpt-test", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]

    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Half an answer"
    assert all(c.choices and c.choices[0].finish_reason is None for c in chunks)


async def test_corrupt_stream_raises_while_iterating(llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI) -> None:
    llm_server.enqueue(corrupt_stream("Good start"))

    stream = await client.chat.completions.create(model="gpt-test", messages=USER, stream=True)
    received: list[str] = []
    with pytest.raises(json.JSONDecodeError):
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")

    assert received == ["Good start"]


async def test_requests_are_recorded_in_order_with_body_and_headers(
    llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI
) -> None:
    llm_server.enqueue(reply("first"), error(429))
    before = time.monotonic()

    await client.chat.completions.create(model="gpt-a", messages=USER, temperature=0)
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(
            model="gpt-b", messages=[*USER, {"role": "user", "content": "Field required: order_id"}]
        )

    first, second = llm_server.requests
    assert (first.model, second.model) == ("gpt-a", "gpt-b")
    assert first.body["temperature"] == 0
    assert first.messages == USER
    assert second.messages[-1]["content"] == "Field required: order_id"
    assert first.headers["authorization"] == "Bearer test"
    assert first.headers["content-type"] == "application/json"
    assert before <= first.received_at <= second.received_at
    assert (first.step, second.step) == (reply("first"), error(429))


async def test_empty_script_falls_back_to_the_default() -> None:
    async with ScriptedLLMServer(default=reply("default answer")) as server:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0) as own_client:
            server.enqueue(reply("scripted"))
            answers = [await own_client.chat.completions.create(model="m", messages=USER) for _ in range(3)]

    assert [a.choices[0].message.content for a in answers] == ["scripted", "default answer", "default answer"]


async def test_reset_forgets_script_and_records(llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI) -> None:
    llm_server.enqueue(reply("used"), reply("forgotten"))
    await client.chat.completions.create(model="gpt-test", messages=USER)

    llm_server.reset()
    answer = await client.chat.completions.create(model="gpt-test", messages=USER)

    assert answer.choices[0].message.content == "ok"
    assert len(llm_server.requests) == 1
    assert llm_server.pending == []


async def test_models_are_listed(llm_server: ScriptedLLMServer, client: openai.AsyncOpenAI) -> None:
    models = await client.models.list()

    assert [model.id for model in models.data] == ["scripted"]


async def test_sixty_four_concurrent_requests_are_served_in_parallel() -> None:
    """All 64 are in the server at once, none answered yet: one served at a time would take 64 × 5 s to get there."""
    async with ScriptedLLMServer(latency_s=5.0) as server:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
            calls = [asyncio.create_task(client.chat.completions.create(model="m", messages=USER)) for _ in range(64)]
            await asyncio.to_thread(server.wait_for_requests, 64, 30.0)
            assert not any(call.done() for call in calls), "every request is still being served"
            answers = await asyncio.gather(*calls)

    assert [a.choices[0].message.content for a in answers] == ["ok"] * 64


async def test_stop_cuts_a_stall_short_and_still_answers() -> None:
    server = ScriptedLLMServer()
    async with server:
        server.enqueue(stall(60))
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0) as client:
            pending = asyncio.create_task(client.chat.completions.create(model="m", messages=USER))
            await asyncio.to_thread(server.wait_for_requests, 1)
            await asyncio.to_thread(server.stop)
            answer = await pending

    assert answer.choices[0].message.content == "ok"
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
