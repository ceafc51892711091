"""A model that hangs: one timeout opens its circuit, callers are refused at once, a background probe closes it.

Real HTTP to the scripted model server (model-a hangs while `hung` holds it, model-b answers), real Redis.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI

from evals.llm_server import ScriptedLLMServer, reply, respond, stall
from hub.gateway.chat_model import GatewayChatModel
from hub.gateway.context import CallContext
from hub.gateway.gateway import PROBE_FEATURE, Gateway
from hub.gateway.guards import Refusal
from hub.prompting.outputs import IntentRoute
from hub.redis_conn import EmbeddedRedis
from tests.gateway_harness import Harness, fast_config, gateway_harness, route_json, until

HANG_S = 30.0


class Model:
    """Which models hang right now; the server asks it for every request."""

    def __init__(self) -> None:
        self.hung: set[str] = {"model-a"}

    def __call__(self, body: dict[str, Any]) -> Any:
        if body["model"] in self.hung:
            return stall(HANG_S, "Your order is on its way")
        return reply(route_json() if body["messages"][0]["role"] == "system" else "Your order shipped.")


@pytest.fixture
def model() -> Model:
    return Model()


@pytest.fixture
def llm(model: Model) -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer(default=respond(model, with_body=True)) as server:
        yield server


def config(llm: ScriptedLLMServer, **overrides: Any):
    """Five failures open a circuit, but a hang counts as all five."""
    settings: dict[str, Any] = {
        "read_timeout_s": 0.3,
        "max_attempts": 1,
        "breaker_failures": 5,
        "breaker_cooldown_s": 60,
        "feature_models": {"intent_route": ["model-a", "model-b"], "agent": ["model-a", "model-b"]},
    }
    return fast_config(llm.base_url, **{**settings, **overrides})


@pytest.fixture
async def h(tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer) -> AsyncIterator[Harness]:
    async with gateway_harness(tmp_path, embedded_redis.url, config(llm)) as harness:
        yield harness


def deterministic(reason: Refusal) -> IntentRoute:
    return IntentRoute(intent="human_handoff", confidence=0.0, entities={})


async def route(h: Harness):
    return await h.gateway.generate(
        h.ctx(),
        use_case="intent_route",
        variables={"message": "where is A-10001?", "history": ""},
        fallback=deterministic,
    )


def asked(llm: ScriptedLLMServer, model: str) -> list[dict[str, Any]]:
    """The requests `model` received from callers (the probe's one-token requests left out)."""
    return [r.body for r in llm.requests if r.model == model and r.body.get("max_tokens") != 1]


def probes(llm: ScriptedLLMServer) -> list[dict[str, Any]]:
    return [r.body for r in llm.requests if r.body.get("max_tokens") == 1]


async def circuit_open(gateway: Gateway, model: str) -> bool:
    """The circuit as Redis (every replica) sees it."""
    return (await gateway.breaker.snapshot(gateway.config.provider, model)).open_until > 0


def busy_connections(gateway: Gateway) -> list[Any]:
    pool = gateway.http_client._transport._pool
    return [c for c in pool.connections if not (c.is_idle() or c.is_closed())]


async def test_one_timeout_opens_the_circuit_and_later_callers_never_wait_on_the_model(
    h: Harness, llm: ScriptedLLMServer
) -> None:
    first = await route(h)
    assert first.model == "model-b" and [r.step for r in first.rungs][:2] == ["attempt_failed", "next_model"]
    assert await circuit_open(h.gateway, "model-a")  # one timeout, though five ordinary failures would be needed

    later = [await route(h) for _ in range(3)]
    assert all(r.model == "model-b" and r.rungs[0].step == "circuit_open" for r in later)
    assert len(asked(llm, "model-a")) == 1


async def test_an_answer_after_a_timeout_is_not_a_hang(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer, model: Model
) -> None:
    async with gateway_harness(tmp_path, embedded_redis.url, config(llm, max_attempts=2)) as h:
        model.hung.clear()
        llm.enqueue(stall(HANG_S), reply(route_json()))  # one stalled attempt, then model-a answers the retry
        result = await route(h)
        assert result.model == "model-a" and result.attempts == 2
        assert not await circuit_open(h.gateway, "model-a")


async def test_while_open_callers_are_refused_and_a_background_probe_closes_the_circuit(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer, model: Model
) -> None:
    async with gateway_harness(tmp_path, embedded_redis.url, config(llm, breaker_cooldown_s=0.3)) as h:
        assert (await route(h)).model == "model-b"  # model-a hung: its circuit opens
        await until(lambda: len(probes(llm)) >= 1)  # after the cooldown, a probe asks the still-hung model

        during = await route(h)  # half-open, the probe still waiting: the caller is refused at once
        assert during.model == "model-b" and during.rungs[0].step == "circuit_open"
        assert len(asked(llm, "model-a")) == 1

        await until(lambda: len(probes(llm)) >= 2)  # the probe timed out, the circuit reopened, a second probe
        model.hung.clear()  # the model recovers
        await until(lambda: not h.gateway.breaker.snapshot_of(h.gateway.config.provider, "model-a").open_until)
        assert not await circuit_open(h.gateway, "model-a")

        after = await route(h)
        assert after.model == "model-a" and after.rungs[0].step == "answer"
        assert len(asked(llm, "model-a")) == 2

        probe_rows = [r for r in await h.usage() if r.feature == PROBE_FEATURE]
        assert [r.outcome for r in probe_rows][-1] == "ok" and "retryable_error" in {r.outcome for r in probe_rows}
        assert {(r.tenant_id, r.model) for r in probe_rows} == {(h.tenant_id, "model-a")}
        assert probes(llm)[0]["messages"] == [{"role": "user", "content": "Reply with OK."}]


@asynccontextmanager
async def deadline_once_asked(llm: ScriptedLLMServer, model: str, after_s: float) -> AsyncIterator[None]:
    """The caller's deadline, `after_s` after the call began but never before `model` has the request: a fixed
    deadline can pass on a busy machine before the request is even sent, and then the model was never asked."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(None) as deadline:
        began = loop.time()

        async def arm() -> None:
            await until(lambda: asked(llm, model))
            deadline.reschedule(max(loop.time(), began + after_s))

        arming = asyncio.create_task(arm())
        try:
            yield
        finally:
            arming.cancel()


async def _route_cancelled_after(h: Harness, ctx: CallContext, seconds: float) -> None:
    """Ask for an intent route and stop waiting after `seconds`, as a caller's own deadline does."""
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(seconds):
            await h.gateway.generate(
                ctx,
                use_case="intent_route",
                variables={"message": "where is A-10001?", "history": ""},
                fallback=deterministic,
            )


async def test_a_caller_deadline_bills_the_attempt_opens_the_circuit_and_leaves_nothing_running(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer
) -> None:
    # The model's own timeouts are far away: only the caller's deadline ends the wait.
    async with gateway_harness(tmp_path, embedded_redis.url, config(llm, read_timeout_s=20)) as h:
        ctx = h.ctx()
        await _route_cancelled_after(h, ctx, 0.5)
        # This process refuses the model at once; every replica does once Redis has it.
        assert h.gateway.breaker.snapshot_of(h.gateway.config.provider, "model-a").open_until > 0
        await until(lambda: circuit_open(h.gateway, "model-a"))

        [row] = await h.usage(ctx.request_id)
        assert (row.model, row.outcome, row.tenant_id) == ("model-a", "retryable_error", h.tenant_id)
        assert row.error.startswith("cancelled") and row.latency_ms >= 400

        assert busy_connections(h.gateway) == []
        others = {t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()}
        assert others <= {"gateway-guard-sync", "usage-ledger", "breaker-probe model-a", "switch-board"}


async def test_a_caller_who_leaves_before_the_model_has_been_slow_is_billed_but_opens_no_circuit(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer
) -> None:
    # A closed browser or a shutdown cancels the call early: that says nothing about the model.
    async with gateway_harness(tmp_path, embedded_redis.url, config(llm, read_timeout_s=20, hang_after_s=1.0)) as h:
        ctx = h.ctx()
        call = asyncio.create_task(
            h.gateway.generate(
                ctx,
                use_case="intent_route",
                variables={"message": "where is A-10001?", "history": ""},
                fallback=deterministic,
            )
        )
        await until(lambda: llm.requests)  # the model has the call: leave now, well before it could be slow
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert h.gateway.breaker.snapshot_of(h.gateway.config.provider, "model-a").open_until == 0
        [row] = await h.usage(ctx.request_id)
        assert row.error.startswith("abandoned")
        assert not await circuit_open(h.gateway, "model-a")


async def test_a_chat_model_call_cancelled_by_the_turn_deadline_is_billed_and_opens_the_circuit(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer
) -> None:
    async with gateway_harness(tmp_path, embedded_redis.url, config(llm, read_timeout_s=20)) as h:
        chat = GatewayChatModel(gateway=h.gateway, ctx=h.ctx(), feature="agent")
        with pytest.raises(TimeoutError):
            async with deadline_once_asked(llm, "model-a", after_s=0.5):  # past hang_after_s: a hang
                await chat.ainvoke([HumanMessage("Where is order A-10001?")])
        rows = await h.usage(chat.last_run.ctx.request_id)
        assert [(r.model, r.outcome) for r in rows] == [("model-a", "retryable_error")]
        assert rows[0].error.startswith("cancelled")
        await until(lambda: circuit_open(h.gateway, "model-a"))
        assert busy_connections(h.gateway) == []

        streamed = GatewayChatModel(gateway=h.gateway, ctx=h.ctx(), feature="agent")
        text = "".join([c.content async for c in streamed.astream([HumanMessage("Where is order A-10001?")])])
        assert text == "Your order shipped." and asked(llm, "model-a") and len(asked(llm, "model-a")) == 1


async def test_a_stream_cut_by_the_turn_deadline_is_billed_and_opens_the_circuit(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer
) -> None:
    async with gateway_harness(tmp_path, embedded_redis.url, config(llm, read_timeout_s=20)) as h:
        chat = GatewayChatModel(gateway=h.gateway, ctx=h.ctx(), feature="agent")
        seen: list[str] = []
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                async for chunk in chat.astream([HumanMessage("Where is order A-10001?")]):
                    seen.append(chunk.content)  # the first words arrive, then the model stalls
        assert seen
        rows = await h.usage(chat.last_run.ctx.request_id)
        assert [(r.model, r.outcome) for r in rows] == [("model-a", "retryable_error")]
        assert rows[0].error.startswith("cancelled")
        await until(lambda: circuit_open(h.gateway, "model-a"))
        assert busy_connections(h.gateway) == []


async def test_every_turn_shares_one_chat_client(h: Harness, llm: ScriptedLLMServer, model: Model) -> None:
    model.hung.clear()
    gc.collect()
    before = sum(type(o) is ChatOpenAI for o in gc.get_objects())
    for turn in range(5):  # a turn builds its own chat model, and the graph copies it per call
        chat = GatewayChatModel(gateway=h.gateway, ctx=h.ctx(), feature="agent", prompt_id=f"agent-{turn}")
        for copy in (chat, chat.model_copy(), chat.model_copy()):
            await copy.ainvoke([HumanMessage("Where is order A-10001?")])
    gc.collect()
    assert sum(type(o) is ChatOpenAI for o in gc.get_objects()) - before == 1
    assert len(asked(llm, "model-a")) == 15


async def test_replicas_that_see_the_same_open_circuit_send_one_probe(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer, model: Model
) -> None:
    settings = config(llm, breaker_cooldown_s=0.3)
    async with (
        gateway_harness(tmp_path / "a", embedded_redis.url, settings) as a,
        gateway_harness(tmp_path / "b", embedded_redis.url, settings) as b,
    ):
        assert (await route(a)).model == "model-b"  # model-a hangs on replica a: the circuit opens for both
        model.hung.clear()
        await b.gateway.guard.sync(extra_models=[(settings.provider, "model-a")])
        assert (await route(b)).rungs[0].step == "circuit_open"  # replica b refuses it too, and waits to probe
        for replica in (a, b):
            await until(lambda r=replica: not r.gateway.breaker.snapshot_of(settings.provider, "model-a").open_until)
        assert len(probes(llm)) == 1
