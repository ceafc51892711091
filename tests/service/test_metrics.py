"""`GET /metrics` shows operators what happened: turns, model calls by outcome, fallbacks, cost per tenant,
redelivered webhooks and queue depths; a worker process serves its own metrics when asked to.

Counters are process-wide and other tests move them too, so every assertion is on a delta across the action.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from evals.llm_server import ScriptedLLMServer, reply, tool_call
from hub.db import models as m
from hub.db.engine import session_factory
from hub.metrics import QUEUE_DEPTH, refresh_queue_gauges
from hub.redis_conn import EmbeddedRedis
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from hub.workers import WorkerKind, run_worker
from tests.agent_harness import running
from tests.fake_graph_api import FakeGraphApi
from tests.service.test_whatsapp import sign, status, text

pytestmark = pytest.mark.timeout(90)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Metrics:
    """Scrape an app's `/metrics` and read a sample summed over the labels not named."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def scrape(self) -> Samples:
        response = await self.client.get("/metrics")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        return parse(response.text)

    async def eventually(self, check: Callable[[Samples], bool], within_s: float = 30.0) -> Samples:
        """Scrape until `check` holds: work done by a background worker shows up when the job finishes."""
        deadline = time.monotonic() + within_s
        while True:
            samples = await self.scrape()
            if check(samples) or time.monotonic() > deadline:
                return samples
            await asyncio.sleep(0.1)


def parse(exposition: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over every series whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= have)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@asynccontextmanager
async def app_client(settings: Settings, *, in_process_workers: bool = False) -> AsyncIterator[tuple[FastAPI, Metrics]]:
    async with running(settings, in_process_workers=in_process_workers) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
            yield app, Metrics(client)


@pytest.fixture
def llm() -> AsyncIterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
def model_settings(app_settings: Settings, llm: ScriptedLLMServer) -> Settings:
    """A priced model (gpt-4o-mini is on the list), so answers cost something."""
    return app_settings.model_copy(
        update={"llm_base_url": llm.base_url, "llm_api_key": SecretStr("k"), "llm_model": "gpt-4o-mini"}
    )


async def chat(client: httpx.AsyncClient, demo: DemoCredentials, session_id: str, message: str) -> dict:
    response = await client.post(
        "/v1/chat", json={"session_id": session_id, "message": message}, headers={"X-Hub-Key": demo.storefront_key}
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- model calls, fallbacks, cost ----------------------------------------------------------------------


async def test_invalid_model_output_shows_as_validation_failures_retries_and_a_fallback(
    model_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, llm: ScriptedLLMServer
) -> None:
    llm.default = tool_call("search_products", '{"query": "hoodie", "max_price": ')  # never valid JSON
    async with app_client(model_settings) as (_, metrics):
        before = await metrics.scrape()
        out = await chat(metrics.client, demo, "web-metrics-1", "any hoodies under $80?")
        after = await metrics.scrape()
    assert out["engine"] == "deterministic" and len(llm.requests) == 3  # the answer, then two re-asks

    feature = {"feature": "customer_reply"}
    assert delta(before, after, "hub_model_calls_total", **feature, model="gpt-4o-mini", outcome="invalid_output") == 3
    assert delta(before, after, "hub_model_calls_total", **feature, outcome="ok") == 0
    assert delta(before, after, "hub_model_calls_total", **feature, outcome="fallback") == 1
    assert delta(before, after, "hub_validation_failures_total", **feature, model="gpt-4o-mini") == 3
    assert delta(before, after, "hub_model_retries_total", **feature, model="gpt-4o-mini") == 2
    assert delta(before, after, "hub_fallbacks_total", **feature) == 1
    assert delta(before, after, "hub_model_latency_seconds_count", **feature, model="gpt-4o-mini") == 3
    assert delta(before, after, "hub_model_latency_seconds_count", **feature, model="deterministic") == 0
    assert delta(before, after, "hub_http_requests_total", method="POST", route="/v1/chat", status="200") == 1


async def test_a_reply_the_validator_rejects_counts_as_a_validation_failure_and_its_fallback(
    model_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, llm: ScriptedLLMServer
) -> None:
    llm.enqueue(tool_call("search_products", {"query": "hoodie", "max_price": 80}))
    llm.default = reply("The Heavyweight Oversized Hoodie is only $9.99 today!")  # valid output, invented price
    async with app_client(model_settings) as (_, metrics):
        before = await metrics.scrape()
        out = await chat(metrics.client, demo, "web-metrics-lie", "any hoodies under $80?")
        after = await metrics.scrape()
    assert out["engine"] == "deterministic"
    feature = {"feature": "customer_reply"}
    assert delta(before, after, "hub_model_calls_total", **feature, model="gpt-4o-mini", outcome="ok") == 4
    assert delta(before, after, "hub_validation_failures_total", **feature, model="gpt-4o-mini") == 3
    assert delta(before, after, "hub_fallbacks_total", **feature) == 1
    assert delta(before, after, "hub_turns_total", channel="web", engine="deterministic") == 1


async def test_a_paid_answer_adds_its_cost_to_the_tenants_counter(
    model_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, llm: ScriptedLLMServer
) -> None:
    llm.enqueue(reply("Hi! I can help you find a product or check an order. What are you looking for?"))
    async with app_client(model_settings) as (app, metrics):
        before = await metrics.scrape()
        out = await chat(metrics.client, demo, "web-metrics-2", "hello!")
        after = await metrics.scrape()
        await app.state.resources.gateway.ledger.flush()
    assert out["engine"] == "llm"

    spent = delta(before, after, "hub_cost_usd_total", tenant=demo.tenant_id, feature="customer_reply")
    async with session_factory(engine)() as session:
        billed = await session.scalar(
            select(func.sum(m.UsageRecord.cost)).where(
                m.UsageRecord.tenant_id == uuid.UUID(demo.tenant_id), m.UsageRecord.feature == "customer_reply"
            )
        )
    assert spent > 0 and spent == pytest.approx(float(billed or Decimal(0)))
    assert delta(before, after, "hub_model_calls_total", feature="customer_reply", outcome="ok") == 1
    assert delta(before, after, "hub_model_retries_total", feature="customer_reply") == 0


async def test_turns_are_counted_and_timed_by_channel_audience_and_engine(
    app_settings: Settings, engine: AsyncEngine, demo: DemoCredentials
) -> None:
    async with app_client(app_settings) as (_, metrics):
        before = await metrics.scrape()
        await chat(metrics.client, demo, "web-metrics-3", "hello!")
        await chat(metrics.client, demo, "web-metrics-3", "any hoodies under $80?")
        after = await metrics.scrape()
    turn = {"channel": "web", "audience": "customer", "engine": "deterministic"}
    assert delta(before, after, "hub_turns_total", **turn) == 2
    assert delta(before, after, "hub_turn_seconds_count", **turn) == 2
    assert delta(before, after, "hub_turn_seconds_sum", **turn) > 0
    assert delta(before, after, "hub_turns_total", engine="llm") == 0


# --- webhooks and queues -------------------------------------------------------------------------------


async def test_redelivered_whatsapp_messages_and_statuses_are_counted_as_dedupes(
    app_settings: Settings, engine: AsyncEngine, demo: DemoCredentials
) -> None:
    async with FakeGraphApi() as graph:
        settings = app_settings.model_copy(update={"whatsapp_api_base": graph.base_url})
        async with app_client(settings, in_process_workers=True) as (_, metrics):

            async def deliver(payload: dict) -> None:
                body = json.dumps(payload).encode()
                response = await metrics.client.post(
                    "/webhooks/whatsapp",
                    content=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Hub-Signature-256": sign(body, demo.whatsapp_app_secret),
                    },
                )
                assert response.status_code == 200, response.text

            def dedupes(samples: Samples) -> float:
                return value(samples, "hub_webhook_dedupes_total", source="whatsapp")

            message = text(demo, "hello")
            before = await metrics.scrape()
            await deliver(message)
            await graph.wait_for_sends(1)
            assert dedupes(await metrics.scrape()) == dedupes(before), "a first delivery is not a dedupe"

            await deliver(message)  # Meta redelivers after the reply went out
            once = await metrics.eventually(lambda s: dedupes(s) > dedupes(before))
            sent = status(demo, "status_sent", graph.sends[0].wamid)
            await deliver(sent)
            await deliver(sent)
            twice = await metrics.eventually(lambda s: dedupes(s) >= dedupes(before) + 2)
            assert len(graph.sends) == 1
    assert dedupes(once) - dedupes(before) == 1
    assert dedupes(twice) - dedupes(before) == 2


async def test_a_photo_job_with_no_imaging_worker_shows_in_the_queue_depth(
    app_settings: Settings, engine: AsyncEngine, demo: DemoCredentials
) -> None:
    async with app_client(app_settings) as (_, metrics):
        before = await metrics.scrape()
        response = await metrics.client.post(
            "/v1/images/jobs",
            json={
                "sku": demo.sample_sku,
                "brief": {"scene": "studio packshot", "background": "white", "aspect": "1:1", "count": 1},
            },
            headers={"X-Hub-Key": demo.operator_key},
        )
        assert response.status_code == 202, response.text
        after = await metrics.scrape()
    assert (
        value(after, "hub_queue_depth", queue="hub-imaging")
        == value(before, "hub_queue_depth", queue="hub-imaging") + 1
    )
    assert value(after, "hub_queue_depth", queue="hub-jobs") == 0
    assert value(after, "hub_queue_dead", queue="hub-imaging") == 0


async def test_metrics_still_answer_when_redis_does_not() -> None:
    class Unreachable:
        async def depths(self) -> dict[str, int]:
            raise RedisConnectionError("Connection refused")

    QUEUE_DEPTH.labels("hub-metrics-test").set(7)
    await refresh_queue_gauges(Unreachable())  # type: ignore[arg-type]
    assert REGISTRY.get_sample_value("hub_queue_depth", {"queue": "hub-metrics-test"}) == 7  # stale, and no error


# --- worker processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_worker_with_a_metrics_port_serves_metrics_while_it_runs(
    embedded_redis: EmbeddedRedis, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, redis_url=embedded_redis.url)
    port = free_port()
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(WorkerKind.CHANNELS, settings, stop=stop, handle_signals=False, consumers=[], metrics_port=port)
    )
    url = f"http://127.0.0.1:{port}/metrics"
    async with httpx.AsyncClient() as client:
        response = await _first_answer(lambda: client.get(url))
        families = {family.name for family in text_string_to_metric_families(response.text)}
        assert {"hub_model_calls", "hub_cost_usd", "hub_webhook_dedupes", "hub_model_latency_seconds"} <= families
        stop.set()
        async with asyncio.timeout(20):
            await worker
        with pytest.raises(httpx.ConnectError):
            await client.get(url)


async def _first_answer(get: Callable[[], Awaitable[httpx.Response]], within_s: float = 10.0) -> httpx.Response:
    deadline = time.monotonic() + within_s
    while True:
        try:
            response = await get()
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        assert response.status_code == 200
        return response
