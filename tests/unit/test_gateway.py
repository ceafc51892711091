"""The gateway against a scripted model over real HTTP: the ladder, the attempts, the ledger and costs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from evals.llm_server import ScriptedLLMServer, drop, error, reply, stall
from hub.db.models import UsageOutcome
from hub.gateway.guards import Refusal
from hub.prompting.outputs import IntentRoute
from hub.redis_conn import EmbeddedRedis
from tests.gateway_harness import Harness, fast_config, gateway_harness, route_json, until


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
async def h(tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer) -> AsyncIterator[Harness]:
    async with gateway_harness(tmp_path, embedded_redis.url, fast_config(llm.base_url)) as harness:
        yield harness


def deterministic(reason: Refusal) -> IntentRoute:
    return IntentRoute(intent="human_handoff", confidence=0.0, entities={})


async def route(h: Harness, message: str = "where is A-10001?", **kwargs):
    return await h.gateway.generate(
        kwargs.pop("ctx", None) or h.ctx(),
        use_case="intent_route",
        variables={"message": message, "history": ""},
        fallback=deterministic,
        **kwargs,
    )


async def test_valid_answer_is_typed_and_billed_from_the_usage_block(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(reply(route_json(), usage=(1000, 200)))
    result = await route(h)
    assert result.engine == "llm" and result.model == "model-a"
    assert result.value.intent == "order_status" and result.value.entities.order_number == "A-10001"
    [row] = await h.usage(result.request_id)
    assert (row.outcome, row.input_tokens, row.output_tokens, row.tokens_estimated) == ("ok", 1000, 200, False)
    assert row.cost == Decimal("0.00140000") == result.cost  # 1000 × $1/M + 200 × $2/M
    assert (row.prompt_id, row.prompt_version, row.price_version) == ("intent_route", "1.0.0", "test-2026")
    assert row.tenant_id == h.tenant_id and row.feature == "intent_route" and row.attempt == 1
    sent = llm.requests[0]
    assert sent.model == "model-a" and sent.headers["authorization"] == "Bearer test-key"
    assert "where is A-10001?" in sent.messages[-1]["content"]


async def test_missing_usage_block_is_counted_locally_and_flagged(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(reply(route_json(), usage=False))
    result = await route(h)
    [row] = await h.usage(result.request_id)
    assert row.tokens_estimated and row.input_tokens > 100 and row.output_tokens > 10
    assert row.cost == (row.input_tokens * Decimal(1) + row.output_tokens * Decimal(2)) / Decimal(1_000_000)


async def test_malformed_json_is_reasked_with_the_error_then_accepted(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(reply('{"intent": "order_status", '), reply(route_json()))
    result = await route(h)
    assert result.engine == "llm" and result.attempts == 2
    assert [r.step for r in result.rungs] == ["invalid_output", "reask", "answer"]
    reask = llm.requests[1].messages
    assert reask[-2] == {"role": "assistant", "content": '{"intent": "order_status", '}
    assert "not valid JSON" in reask[-1]["content"]
    assert [r.outcome for r in await h.usage(result.request_id)] == ["invalid_output", "ok"]


async def test_off_schema_three_times_moves_to_the_next_model(h: Harness, llm: ScriptedLLMServer) -> None:
    bad = route_json(intent="buy_a_boat")
    llm.enqueue(reply(bad), reply(bad), reply(bad), reply(route_json()))
    result = await route(h)
    assert result.model == "model-b" and [r.model for r in llm.requests] == ["model-a"] * 3 + ["model-b"]
    assert [r.step for r in result.rungs] == [
        "invalid_output",
        "reask",
        "invalid_output",
        "reask",
        "invalid_output",
        "next_model",
        "answer",
    ]
    assert "intent: Input should be" in llm.requests[1].messages[-1]["content"]
    rows = await h.usage(result.request_id)
    assert [(r.model, r.outcome, r.attempt) for r in rows] == [
        ("model-a", "invalid_output", 1),
        ("model-a", "invalid_output", 2),
        ("model-a", "invalid_output", 3),
        ("model-b", "ok", 4),
    ]
    assert sum(r.cost for r in rows) == result.cost > 0


async def test_business_validator_rejections_are_reasked_by_name(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(reply(route_json(entities={"order_number": "A-99999"})), reply(route_json()))

    def known_orders(value: IntentRoute) -> list[str]:
        number = value.entities.order_number
        return [] if number in (None, "A-10001") else [f"order {number!r} is not in the tool output"]

    result = await route(h, validators=[known_orders])
    assert result.value.entities.order_number == "A-10001"
    assert "order 'A-99999' is not in the tool output" in llm.requests[1].messages[-1]["content"]


async def test_429_waits_at_least_retry_after_then_succeeds(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(error(429, "slow down", retry_after=0.4), reply(route_json()))
    result = await route(h)
    first, second = llm.requests
    assert second.received_at - first.received_at >= 0.4
    assert result.engine == "llm"
    rows = await h.usage(result.request_id)
    assert [r.outcome for r in rows] == ["retryable_error", "ok"]
    assert rows[0].error.startswith("429 rate_limited") and rows[0].cost == 0


async def test_retry_after_beyond_the_deadline_is_never_retried_early(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer
) -> None:
    async with gateway_harness(tmp_path, embedded_redis.url, fast_config(llm.base_url, deadline_s=1.0)) as h:
        llm.enqueue(error(429, retry_after=30), reply(route_json()))
        started = time.monotonic()
        result = await route(h)
        assert time.monotonic() - started < 1.0
        assert [r.model for r in llm.requests] == ["model-a", "model-b"] and result.model == "model-b"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_never_retried(h: Harness, llm: ScriptedLLMServer, status: int) -> None:
    llm.enqueue(error(status), reply(route_json()))
    result = await route(h)
    assert [r.model for r in llm.requests] == ["model-a", "model-b"]
    rows = await h.usage(result.request_id)
    assert [(r.model, r.outcome) for r in rows] == [("model-a", "error"), ("model-b", "ok")]


async def test_a_408_request_timeout_is_retried_like_a_server_error(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(error(408, "request timed out"), reply(route_json()))
    result = await route(h)
    assert result.engine == "llm" and [r.model for r in llm.requests] == ["model-a", "model-a"]
    rows = await h.usage(result.request_id)
    assert [r.outcome for r in rows] == ["retryable_error", "ok"] and rows[0].error.startswith("408 request_timeout")


async def test_an_answer_cut_off_at_the_token_limit_is_reasked_like_an_invalid_one(
    h: Harness, llm: ScriptedLLMServer
) -> None:
    llm.enqueue(reply(route_json(), finish_reason="length"), reply(route_json()))
    result = await route(h)
    assert result.engine == "llm" and result.attempts == 2
    assert [r.step for r in result.rungs] == ["invalid_output", "reask", "answer"]
    assert "cut off at the token limit" in llm.requests[1].messages[-1]["content"]
    rows = await h.usage(result.request_id)
    assert [r.outcome for r in rows] == ["invalid_output", "ok"] and "finish_reason 'length'" in rows[0].error


async def test_answers_that_are_always_cut_off_end_in_the_fallback(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.default = reply(route_json(), finish_reason="length")
    result = await route(h)
    assert result.engine == "deterministic" and result.fallback_reason == Refusal.INVALID_OUTPUT
    rows = await h.usage(result.request_id)
    assert [r.outcome for r in rows] == ["invalid_output"] * 6 + ["fallback"]


async def test_server_errors_and_drops_are_retried_up_to_the_cap(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(error(500), error(503), drop(), reply(route_json()))
    result = await route(h)
    assert [r.model for r in llm.requests] == ["model-a", "model-a", "model-a", "model-b"]
    rows = await h.usage(result.request_id)
    assert [r.outcome for r in rows] == ["retryable_error"] * 3 + ["ok"]
    assert "connection" in rows[2].error


async def test_a_stalled_answer_hits_the_read_timeout_and_is_retried(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer
) -> None:
    async with gateway_harness(tmp_path, embedded_redis.url, fast_config(llm.base_url, read_timeout_s=0.3)) as h:
        llm.enqueue(stall(3), reply(route_json()))
        result = await route(h)
        assert result.engine == "llm" and result.attempts == 2
        assert (await h.usage(result.request_id))[0].error.startswith("timeout")


async def test_a_model_that_always_fails_ends_in_the_fallback_not_an_exception(
    h: Harness, llm: ScriptedLLMServer
) -> None:
    llm.default = error(500)
    result = await route(h)
    assert result.engine == "deterministic" and result.fallback_reason == Refusal.MODELS_FAILED
    assert result.value.intent == "human_handoff"
    rows = await h.usage(result.request_id)
    assert len(rows) == 7 and rows[-1].outcome == UsageOutcome.FALLBACK and rows[-1].model == "deterministic"
    assert [r.attempt for r in rows] == list(range(1, 8))


async def test_no_model_configured_falls_back_at_once(tmp_path: Path, embedded_redis: EmbeddedRedis) -> None:
    async with gateway_harness(tmp_path, embedded_redis.url, fast_config(None)) as h:
        result = await route(h)
        assert result.engine == "deterministic" and result.fallback_reason == Refusal.NO_MODEL
        [row] = await h.usage(result.request_id)
        assert row.outcome == "fallback" and row.provider == "none"


async def test_tenant_ai_switch_off_never_reaches_the_model(h: Harness, llm: ScriptedLLMServer) -> None:
    result = await route(h, ctx=h.ctx(ai_enabled={"intent_route": False}))
    assert result.fallback_reason == Refusal.AI_OFF and llm.requests == []


async def test_hard_budget_stops_model_calls_and_soft_budget_warns(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.default = reply(route_json(), usage=(1_000_000, 0))  # $1.00 per call on model-a
    first = await route(h, ctx=h.ctx(budgets={"daily_soft": "0.5", "daily_hard": "2"}))
    assert first.engine == "llm" and first.budget_warning is None
    await h.usage()  # flushing the ledger also updates the spend counters
    second = await route(h, ctx=h.ctx(budgets={"daily_soft": "0.5", "daily_hard": "2"}))
    assert second.engine == "llm" and "soft budget" in second.budget_warning
    await h.usage()
    third = await route(h, ctx=h.ctx(budgets={"daily_soft": "0.5", "daily_hard": "2"}))
    assert third.fallback_reason == Refusal.BUDGET_EXHAUSTED and len(llm.requests) == 2


async def test_tenant_rate_limit_sends_excess_calls_to_the_fallback(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer
) -> None:
    async with gateway_harness(tmp_path, embedded_redis.url, fast_config(llm.base_url, rate_limit_per_minute=2)) as h:
        llm.default = reply(route_json())
        results = [await route(h) for _ in range(3)]
        assert [r.engine for r in results] == ["llm", "llm", "deterministic"]
        assert results[2].fallback_reason == Refusal.RATE_LIMITED and len(llm.requests) == 2


async def test_circuit_opens_after_repeated_failures_and_a_background_probe_closes_it(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer
) -> None:
    config = fast_config(llm.base_url, breaker_failures=3, breaker_cooldown_s=0.5, max_attempts=1)
    async with gateway_harness(tmp_path, embedded_redis.url, config) as h:
        for _ in range(3):  # three calls in a row find model-a failing
            llm.enqueue(error(500), reply(route_json()))
            assert (await route(h)).model == "model-b"
        llm.reset()
        llm.default = reply(route_json())
        skipped = await route(h)
        assert skipped.model == "model-b" and [r.model for r in llm.requests] == ["model-b"]
        assert skipped.rungs[0].step == "circuit_open"
        probe = (await asyncio.to_thread(llm.wait_for_requests, 2))[1]  # after the cooldown, off every caller's path
        assert (probe.model, probe.body["max_tokens"]) == ("model-a", 1)
        await until(lambda: not h.gateway.breaker.snapshot_of(config.provider, "model-a").open_until)
        llm.reset()
        assert (await route(h)).model == "model-a" and [r.model for r in llm.requests] == ["model-a"]


async def test_tenant_price_override_replaces_the_list_price(h: Harness, llm: ScriptedLLMServer) -> None:
    llm.enqueue(reply(route_json(), usage=(1_000_000, 1_000_000)))
    result = await route(h, ctx=h.ctx(price_overrides={"model-a": {"input": "0.10", "output": "0.20"}}))
    [row] = await h.usage(result.request_id)
    assert row.cost == Decimal("0.30") and row.price_version == "tenant-override"


async def test_replicas_share_rate_limits_and_circuits_through_redis(
    tmp_path: Path, embedded_redis: EmbeddedRedis, llm: ScriptedLLMServer
) -> None:
    config = fast_config(llm.base_url, rate_limit_per_minute=3, breaker_failures=1, max_attempts=1)
    async with gateway_harness(tmp_path, embedded_redis.url, config) as a:
        async with gateway_harness(tmp_path, embedded_redis.url, config) as b:
            b.tenant_id = a.tenant_id  # both replicas serve the same tenant
            llm.enqueue(error(500), reply(route_json()), reply(route_json()))
            first, second = await route(a), await route(a)
            assert (first.model, second.model) == ("model-b", "model-b")  # model-a's circuit opened on replica a
            await a.gateway.guard.sync()
            await b.gateway.guard.sync(extra_tenants=[a.tenant_id], extra_models=[(config.provider, "model-a")])
            llm.reset()
            llm.default = reply(route_json())
            third = await route(b)
            assert third.model == "model-b" and [r.model for r in llm.requests] == ["model-b"]
            assert third.rungs[0].step == "circuit_open"
            fourth = await route(b)
            assert fourth.fallback_reason == Refusal.RATE_LIMITED
