"""The audit trail as an operator and an auditor use it: explain an answer, replay it, redact, export to OTLP."""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from evals.llm_server import Reply, ScriptedLLMServer, error, last_tool_result, reply, respond, tool_call
from graphs.replay import ReplayError, replay_message
from hub.db import models as m
from hub.db.engine import session_factory
from hub.prompting.registry import PromptRegistry, default_prompts_dir
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from service.app import create_app
from tests.conftest import make_shop
from tests.processes import ahub

LIE = "The Heavyweight Oversized Hoodie is only $9.99 today!"


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


def model_settings(settings: Settings, llm: ScriptedLLMServer, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "llm_base_url": llm.base_url,
            "llm_api_key": SecretStr("k"),
            "llm_model": "model-a",
            "usage_flush_interval_s": 0.05,
            **extra,
        }
    )


class Service:
    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client

    async def say(self, key: str, session_id: str, text: str) -> dict[str, Any]:
        r = await self.client.post(
            "/v1/chat", json={"session_id": session_id, "message": text}, headers={"X-Hub-Key": key}
        )
        assert r.status_code == 200, r.text
        return r.json()


async def serve(settings: Settings) -> AsyncIterator[Service]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            yield Service(app, client)


DRAFT_RULE = "Open every answer with the words 'Good news:'."


@pytest.fixture
def prompts_dir(tmp_path: Path) -> Path:
    """The shipped prompts plus a draft customer_reply@2.3.0 that adds one rule to 2.2.0."""
    root = tmp_path / "prompts"
    shutil.copytree(default_prompts_dir(), root)
    current = (root / "customer_reply" / "2.2.0.md").read_text()
    draft = current.replace("version: 2.2.0", "version: 2.3.0").replace("## system\n", f"## system\n{DRAFT_RULE}\n", 1)
    (root / "customer_reply" / "2.3.0.md").write_text(draft)
    return root


@pytest.fixture
async def service(
    app_settings: Settings, engine: AsyncEngine, llm: ScriptedLLMServer, demo: DemoCredentials, prompts_dir: Path
) -> AsyncIterator[Service]:
    async for s in serve(model_settings(app_settings, llm, prompts_dir=prompts_dir)):
        yield s


def hub_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return {**clean, "HUB_DATA_DIR": str(tmp_path / "cli"), "HUB_DATABASE_URL": database_url, **extra}


async def test_explain_shows_every_rung_of_a_turn_that_retried_was_rejected_reasked_and_fell_back(
    service: Service,
    demo: DemoCredentials,
    llm: ScriptedLLMServer,
    engine: AsyncEngine,
    database_url: str,
    tmp_path: Path,
) -> None:
    llm.enqueue(error(503), tool_call("search_products", {"query": "hoodie", "max_price": 80}))
    llm.default = reply(LIE)
    out = await service.say(demo.storefront_key, "web-explain", "any hoodies under $80?")
    assert out["engine"] == "deterministic"

    r = await service.client.get(f"/v1/messages/{out['message_id']}/explain", headers={"X-Hub-Key": demo.operator_key})
    assert r.status_code == 200, r.text
    why = r.json()
    assert why["trace_id"] == out["trace_id"] and why["question"] == "any hoodies under $80?"
    sha = PromptRegistry.load(default_prompts_dir()).get("customer_reply", "2.2.0").sha256
    assert why["prompt"] == "customer_reply@2.2.0" and why["prompt_sha256"] == sha
    assert why["models"] == ["model-a"] and why["engine"] == "deterministic" and why["reasks"] == 2
    assert len(why["validation"]) == 3 and all("$9.99" in p for p in why["validation"])
    assert why["fallback_reason"].startswith("validation:")
    kinds = [s["kind"] for s in why["steps"]]
    # every rung, in the order it happened
    expected = ["input", "prompt", "retry", "model", "tool", "prompt", "model", "validation", "prompt", "model"]
    expected += ["validation", "prompt", "model", "validation", "fallback", "tool", "answer"]
    assert kinds == expected, kinds
    texts = [s["text"] for s in why["steps"]]
    assert "503" in texts[2] and "called search_products" in texts[3]
    assert texts[4].startswith("tool search_products with") and "returned" in texts[4]
    assert "re-asked (1)" in texts[7] and "re-asked (2)" in texts[10] and "gave up on the model" in texts[13]
    assert texts[15].startswith("tool search_products (deterministic engine)")
    assert "re-asked 2 times" in why["summary"] and "fell back to the deterministic engine" in why["summary"]

    # the attempt spans keep what the model was sent and what it said, for the auditor
    async with session_factory(engine)() as session:
        attempts = (
            (
                await session.execute(
                    select(m.TraceSpan).where(m.TraceSpan.trace_id == out["trace_id"], m.TraceSpan.kind == "attempt")
                )
            )
            .scalars()
            .all()
        )
    answered = [a.attributes for a in attempts if a.attributes["outcome"] == "ok"]
    assert answered[1]["output"]["content"] == LIE
    assert (
        answered[1]["messages"][0]["role"] == "system" and "Northwind Threads" in answered[1]["messages"][0]["content"]
    )
    assert answered[1]["params"]["tools"] and "search_products" in answered[1]["params"]["tools"]

    # only that shop's operators may ask
    storefront = await service.client.get(
        f"/v1/messages/{out['message_id']}/explain", headers={"X-Hub-Key": demo.storefront_key}
    )
    assert storefront.status_code == 403
    async with session_factory(engine)() as session:
        other = await make_shop(session, "elsewhere")
    foreign = await service.client.get(
        f"/v1/messages/{out['message_id']}/explain", headers={"X-Hub-Key": other.operator_key}
    )
    assert foreign.status_code == 404 and "no message" in foreign.json()["error"]["message"]

    # the platform owner's CLI tells the same story
    env = hub_env(database_url, tmp_path)
    printed = await ahub("explain", out["message_id"], "--json", env=env)
    assert printed.returncode == 0, printed.stderr
    assert [s["kind"] for s in json.loads(printed.stdout)["steps"]] == expected
    text = await ahub("explain", out["message_id"], env=env)
    assert "re-asked 2 times" in text.stdout and "[fallback] fell back to the deterministic engine" in text.stdout
    unknown = await ahub("explain", str(uuid.uuid4()), env=env)
    assert unknown.returncode == 1 and "no message" in unknown.stderr
    assert (await ahub("explain", "yesterday", env=env)).returncode == 1


async def explained_prompt(service: Service, operator_key: str, message_id: str) -> str | None:
    r = await service.client.get(f"/v1/messages/{message_id}/explain", headers={"X-Hub-Key": operator_key})
    assert r.status_code == 200, r.text
    return r.json()["prompt"]


async def test_the_chat_response_names_the_prompt_explain_names_for_the_same_message(
    service: Service, demo: DemoCredentials, llm: ScriptedLLMServer, app_settings: Settings
) -> None:
    llm.enqueue(reply("Hello! How can I help you today?"))
    answered = await service.say(demo.storefront_key, "web-prompt-llm", "hi there")
    llm.default = reply(LIE)
    fell_back = await service.say(demo.storefront_key, "web-prompt-fallback", "any hoodies under $80?")

    assert answered["engine"] == "llm" and fell_back["engine"] == "deterministic"
    for out in (answered, fell_back):  # the model was sent customer_reply@2.2.0 both times
        assert out["prompt_version"] == "customer_reply@2.2.0"
        assert await explained_prompt(service, demo.operator_key, out["message_id"]) == out["prompt_version"]

    async for no_model in serve(app_settings):  # no model configured: no prompt reached one
        out = await no_model.say(demo.storefront_key, "web-prompt-none", "any hoodies under $80?")
        assert out["engine"] == "deterministic" and out["prompt_version"] is None
        assert await explained_prompt(no_model, demo.operator_key, out["message_id"]) is None


async def test_replay_against_another_prompt_version_diffs_the_reply_using_the_recorded_tool_outputs(
    service: Service, demo: DemoCredentials, llm: ScriptedLLMServer, engine: AsyncEngine, prompts_dir: Path
) -> None:
    def quote(prefix: str) -> Any:
        def answer(messages: list[dict[str, Any]]) -> Reply:
            card = last_tool_result(messages)["products"][0]
            return reply(f"{prefix} {card['title']} ({card['sku']}) is ${card['price']}.")

        return respond(answer)

    args = {"query": "hoodie", "max_price": 80}
    llm.enqueue(tool_call("search_products", args), quote("The"))
    out = await service.say(demo.storefront_key, "web-replay", "any hoodies under $80?")
    assert out["engine"] == "llm" and out["prompt_version"] == "customer_reply@2.2.0"
    sku = out["products"][0]["sku"]
    original_price = out["products"][0]["price"]
    async with session_factory(engine)() as session:  # the catalogue moves on after the turn
        await session.execute(update(m.Product).where(m.Product.sku == sku).values(price=Decimal("1.00")))
        await session.commit()

    sent_before = len(llm.requests)
    llm.enqueue(tool_call("search_products", args), quote("Good news: the"))
    conversations, sessions = service.app.state.conversations, session_factory(engine)
    result = await replay_message(
        conversations, sessions, uuid.UUID(out["message_id"]), prompt_version="2.3.0", actor="qa@example.com"
    )
    assert result.original.prompt == "customer_reply@2.2.0" and result.replay.prompt == "customer_reply@2.3.0"
    assert result.replay.engine == "llm" and result.replay.validation == [] and result.changed
    assert result.original.tools == result.replay.tools == [f"search_products({json.dumps(args, sort_keys=True)})"]
    assert f"${original_price}" in result.replay.reply and "$1.00" not in result.replay.reply, "recorded outputs"
    assert result.reply_diff.startswith("--- original\n+++ replay")
    assert f"-{out['reply']}" in result.reply_diff and f"+{result.replay.reply}" in result.reply_diff
    replayed = llm.requests[sent_before:]
    assert len(replayed) == 2 and replayed[0].model == "model-a"
    draft = PromptRegistry.load(prompts_dir).get("customer_reply", "2.3.0", allow_drafts=True)
    assert replayed[0].messages[0]["content"].startswith(DRAFT_RULE), "the draft's system prompt was sent"
    assert not llm.requests[0].messages[0]["content"].startswith(DRAFT_RULE)

    # another model: only that model is asked
    llm.enqueue(tool_call("search_products", args), quote("Model B says the"))
    by_b = await replay_message(
        conversations, sessions, uuid.UUID(out["message_id"]), prompt_version="2.2.0", model="model-b"
    )
    assert [r.model for r in llm.requests[-2:]] == ["model-b", "model-b"] and by_b.replay.models == ["model-b"]
    await service.app.state.resources.gateway.ledger.flush()

    async with session_factory(engine)() as session:
        rows = (
            (await session.execute(select(m.UsageRecord).where(m.UsageRecord.replay_of == out["message_id"])))
            .scalars()
            .all()
        )
        live = (
            (await session.execute(select(m.UsageRecord).where(m.UsageRecord.trace_id == out["trace_id"])))
            .scalars()
            .all()
        )
        root = (
            await session.execute(
                select(m.TraceSpan).where(m.TraceSpan.trace_id == result.trace_id, m.TraceSpan.parent_span_id.is_(None))
            )
        ).scalar_one()
        audits = (
            (await session.execute(select(m.AuditEvent).where(m.AuditEvent.action == "chat.replayed"))).scalars().all()
        )
        product = (await session.execute(select(m.Product).where(m.Product.sku == sku))).scalar_one()
        messages = (await session.execute(select(m.Message))).scalars().all()
    assert len(rows) == 4 and {r.feature for r in rows} == {"customer_reply"}, "replays are billed and marked"
    assert all(r.replay_of is None for r in live) and len(live) == 2
    assert root.name == "chat.replay" and root.attributes["replay_of"] == out["message_id"]
    assert root.attributes["prompt_sha256"] == draft.sha256
    assert [a.actor for a in audits] == ["qa@example.com", "cli"] and audits[0].data["prompt"] == "customer_reply@2.3.0"
    assert product.price == Decimal("1.00") and len(messages) == 2, "a replay writes no messages and runs no tools"

    with pytest.raises(ReplayError, match="not a bot answer"):
        customer = next(x for x in messages if x.role == "customer")
        await replay_message(conversations, sessions, customer.id, prompt_version="2.3.0")
    with pytest.raises(ReplayError, match="in this shop"):
        await replay_message(
            conversations, sessions, uuid.UUID(out["message_id"]), prompt_version="2.3.0", tenant_id=uuid.uuid4()
        )
    with pytest.raises(ValueError, match=r"9\.9\.9"):
        await replay_message(conversations, sessions, uuid.UUID(out["message_id"]), prompt_version="9.9.9")
    with pytest.raises(ValueError, match="structured prompt"):
        await replay_message(conversations, sessions, uuid.UUID(out["message_id"]), prompt_version="1.0.0")


async def test_replay_from_the_cli_prints_the_diff(
    service: Service,
    demo: DemoCredentials,
    llm: ScriptedLLMServer,
    database_url: str,
    tmp_path: Path,
    prompts_dir: Path,
) -> None:
    llm.enqueue(reply("Hello from the current prompt!"))
    out = await service.say(demo.storefront_key, "web-cli-replay", "tell me a joke")
    llm.enqueue(reply("Hi, from the old prompt."))
    env = hub_env(
        database_url,
        tmp_path,
        HUB_LLM_BASE_URL=llm.base_url,
        HUB_LLM_API_KEY="k",
        HUB_LLM_MODEL="model-a",
        HUB_PROMPTS_DIR=str(prompts_dir),
    )
    printed = await ahub("replay", out["message_id"], "--prompt-version", "2.3.0", "--json", env=env)
    assert printed.returncode == 0, printed.stderr
    result = json.loads(printed.stdout)
    assert result["original"]["reply"] == out["reply"] and result["replay"]["reply"] == "Hi, from the old prompt."
    bad = await ahub("replay", out["message_id"], "--prompt-version", "7.7.7", env=env)
    assert bad.returncode == 1 and "7.7.7" in bad.stderr


async def test_a_shop_that_asks_for_redaction_gets_traces_without_emails_phones_or_addresses(
    app_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, llm: ScriptedLLMServer
) -> None:
    async with session_factory(engine)() as session:
        tenant = await session.get(m.Tenant, uuid.UUID(demo.tenant_id))
        tenant.settings = {**tenant.settings, "redact_pii": True}
        await session.commit()
    text = "I'm jane.roe@example.net, call me on +1 415 555 2671 or ship to 12 Harbour Street please"
    llm.enqueue(reply("Thanks! We will be in touch."))
    async for s in serve(model_settings(app_settings, llm)):
        out = await s.say(demo.storefront_key, "web-pii", text)
    async with session_factory(engine)() as session:
        spans = (
            (await session.execute(select(m.TraceSpan).where(m.TraceSpan.trace_id == out["trace_id"]))).scalars().all()
        )
        stored = (await session.execute(select(m.Message).where(m.Message.role == "customer"))).scalar_one()
        audit = (
            await session.execute(select(m.AuditEvent).where(m.AuditEvent.trace_id == out["trace_id"]))
        ).scalar_one()
    dumped = json.dumps([[s.attributes, s.events] for s in spans]) + json.dumps(audit.data)
    for secret in ("jane.roe@example.net", "555 2671", "12 Harbour Street"):
        assert secret not in dumped
    root = next(s for s in spans if s.parent_span_id is None)
    assert root.attributes["input"] == "I'm [email], call me on [phone] or ship to [address] please"
    assert stored.content == text, "the conversation itself is kept as written"


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[ExportTraceServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        type(self).received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


async def test_traces_are_exported_over_otlp_when_a_collector_is_configured(
    app_settings: Settings, engine: AsyncEngine, demo: DemoCredentials, llm: ScriptedLLMServer
) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Collector)
    _Collector.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}/v1/traces"
        llm.enqueue(reply("Hello there!"))
        async for s in serve(model_settings(app_settings, llm, otlp_endpoint=endpoint)):
            out = await s.say(demo.storefront_key, "web-otlp", "hi")
        # the app's shutdown flushed the exporter
    finally:
        server.shutdown()
        server.server_close()
    spans = [
        span
        for request in _Collector.received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    ours = [s for s in spans if s.trace_id.hex() == out["trace_id"]]
    names = {s.name for s in ours}
    assert {"chat.turn", "gateway.call customer_reply", "model.attempt"} <= names
    root = next(s for s in ours if s.name == "chat.turn")
    attributes = {a.key: a.value.string_value for a in root.attributes}
    assert attributes["hub.tenant_id"] == demo.tenant_id and attributes["hub.reply"] == "Hello there!"
    attempt = next(s for s in ours if s.name == "model.attempt")
    gateway = next(s for s in ours if s.name.startswith("gateway.call"))
    assert attempt.parent_span_id == gateway.span_id and gateway.parent_span_id == root.span_id
