"""Kill switches and status: a flip made in one place reaches every running gateway, is audited, and shows up."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_ui import console_commands as cc
from evals.llm_server import ScriptedLLMServer, error, reply
from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.gateway.chat_model import GatewayChatModel
from hub.gateway.context import CallContext
from hub.gateway.factory import build_gateway, load_prompts
from hub.gateway.gateway import Gateway
from hub.gateway.guards import Refusal
from hub.gateway.switches import (
    Switch,
    SwitchBoard,
    SwitchError,
    announce,
    check_feature,
    switch_off,
    switch_on,
)
from hub.imaging import ImagingRefused, StudioBrief, submit
from hub.prompting.outputs import IntentRoute
from hub.redis_conn import create_redis
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from hub.tenancy.config import TenantConfig
from tests.agent_harness import audit_of, running, shopper_chat
from tests.conftest import make_shop
from tests.gateway_harness import route_json
from tests.processes import hub

CHAIN = ["model-a", "model-b"]


@pytest.fixture
def llm() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
def settings(app_settings: Settings, llm: ScriptedLLMServer) -> Settings:
    """A model chain of two for the agent and the router; polling so slow that only an announcement is fast."""
    return app_settings.model_copy(
        update={
            "llm_base_url": llm.base_url,
            "llm_api_key": SecretStr("k"),
            "llm_model": "model-a",
            "llm_models": {"customer_reply": CHAIN, "intent_route": CHAIN},
            "llm_max_attempts": 1,
            "switch_poll_s": 120.0,
            "usage_flush_interval_s": 0.05,
        }
    )


async def flip(settings: Settings, *, off: bool, announced: bool = True, **target: Any) -> Switch | None:
    """Flip a switch the way `hub switch` does: its own database engine and Redis connection, commit, announce."""
    engine = create_engine(settings.resolved_database_url)
    redis = create_redis(settings.redis_url or "")
    try:
        async with session_factory(engine)() as session:
            if off:
                switch = await switch_off(session, **target)
            else:
                switch = await switch_on(session, by=target.pop("by", "cli:test"), **target)
            await session.commit()
        if announced:
            assert await announce(redis)
        return switch
    finally:
        await redis.aclose()
        await engine.dispose()


async def until(check: Callable[[], object], timeout_s: float = 5.0) -> None:
    """Wait for a process's view to change (observable state, no fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "the switch did not arrive in time"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def process(settings: Settings) -> AsyncIterator[Gateway]:
    """A gateway as another process holds one: its own engine, Redis connection and switch board."""
    engine = create_engine(settings.resolved_database_url)
    redis = create_redis(settings.redis_url or "")
    gateway = build_gateway(settings, session_factory(engine), redis)
    try:
        yield gateway
    finally:
        await gateway.aclose()
        await redis.aclose()
        await engine.dispose()


async def route(gateway: Gateway, tenant_id: uuid.UUID):
    return await gateway.generate(
        CallContext(tenant_id=tenant_id, tenant=TenantConfig()),
        use_case="intent_route",
        variables={"message": "where is A-10001?", "history": ""},
        fallback=lambda reason: IntentRoute(intent="human_handoff", confidence=0.0, entities={}),
    )


async def test_a_feature_switched_off_elsewhere_sends_the_running_app_to_its_fallback_and_back(
    settings: Settings, engine: AsyncEngine, demo: DemoCredentials, llm: ScriptedLLMServer
) -> None:
    llm.default = reply("Hello! How can I help you today?")
    tenant_id = uuid.UUID(demo.tenant_id)
    async with running(settings) as app:
        board = app.state.resources.gateway.switches
        chat = shopper_chat(app, engine, demo)
        assert (await chat.say("hi")).engine == "llm"

        await flip(
            settings,
            off=True,
            tenant_id=tenant_id,
            feature="customer_reply",
            reason="quotes old prices",
            by="cli:alice",
        )
        await until(lambda: board.tenant_off(tenant_id, "customer_reply"))
        asked = len(llm.requests)
        out = await chat.say("hi again")
        assert out.engine == "deterministic" and len(llm.requests) == asked, "the model is never asked"
        reason = (await audit_of(engine, out)).data["fallback_reason"]
        assert reason == "switched_off: AI for 'customer_reply' switched off by cli:alice: quotes old prices"
        await app.state.resources.gateway.ledger.flush()
        async with session_factory(engine)() as session:
            row = (
                await session.execute(select(m.UsageRecord).where(m.UsageRecord.outcome == m.UsageOutcome.FALLBACK))
            ).scalar_one()
        assert row.feature == "customer_reply" and "quotes old prices" in row.error and row.cost == 0

        await flip(settings, off=False, tenant_id=tenant_id, feature="customer_reply", by="cli:bob")
        await until(lambda: board.tenant_off(tenant_id, "customer_reply") is None)
        assert (await chat.say("hi once more")).engine == "llm"

    async with session_factory(engine)() as session:
        events = (
            await session.execute(
                select(m.AuditEvent).where(m.AuditEvent.action.like("switch.%")).order_by(m.AuditEvent.id)
            )
        ).scalars()
        trail = [(e.action, e.actor, e.tenant_id, e.data["reason"]) for e in events]
    assert trail == [
        ("switch.off", "cli:alice", tenant_id, "quotes old prices"),
        ("switch.on", "cli:bob", tenant_id, ""),
    ]


async def test_a_shop_wide_switch_stops_every_feature_and_the_photo_pipeline(
    settings: Settings, engine: AsyncEngine, demo: DemoCredentials, llm: ScriptedLLMServer
) -> None:
    tenant_id = uuid.UUID(demo.tenant_id)
    await flip(settings, off=True, tenant_id=tenant_id, feature="*", reason="chargeback storm", by="cli:alice")
    async with process(settings) as gateway:
        result = await route(gateway, tenant_id)
    assert result.fallback_reason == Refusal.SWITCHED_OFF and llm.requests == []
    assert [r.step for r in result.rungs] == ["guard", "fallback"]
    assert "every AI feature switched off by cli:alice: chargeback storm" in result.rungs[0].detail

    brief = StudioBrief(
        scene="on a table", background="seamless white", aspect="1:1", count=1, negative_prompt="", style_notes=""
    )
    async with session_factory(engine)() as session:
        with pytest.raises(ImagingRefused) as refused:
            await submit(session, settings, tenant_id, demo.sample_sku, brief, by="operator:x")
        assert refused.value.status == 503 and "chargeback storm" in refused.value.message
        await flip(settings, off=False, tenant_id=tenant_id, feature="*", by="cli:alice")
        job = await submit(session, settings, tenant_id, demo.sample_sku, brief, by="operator:x")
        assert job.state == m.ImageJobState.QUEUED


async def test_a_model_switched_off_in_one_place_is_skipped_by_every_other_process(
    settings: Settings, engine: AsyncEngine, demo: DemoCredentials, llm: ScriptedLLMServer
) -> None:
    tenant_id = uuid.UUID(demo.tenant_id)
    async with process(settings) as first, process(settings) as second:
        llm.default = reply(route_json())
        assert (await route(first, tenant_id)).model == "model-a"

        await flip(settings, off=True, model="model-a", reason="provider incident", by="cli:ops")
        await until(lambda: first.switches.model_off("model-a") and second.switches.model_off("model-a"))
        for gateway in (first, second):
            result = await route(gateway, tenant_id)
            assert result.engine == "llm" and result.model == "model-b"
            assert [(r.step, r.model) for r in result.rungs] == [("switched_off", "model-a"), ("answer", "model-b")]
        assert [r.model for r in llm.requests] == ["model-a", "model-b", "model-b"]

        llm.default = reply("streamed")
        ctx = CallContext(tenant_id=tenant_id, tenant=TenantConfig())
        model = GatewayChatModel(gateway=second, ctx=ctx, feature="customer_reply")
        assert "".join([c.content async for c in model.astream("hi")]) == "streamed"
        assert llm.requests[-1].model == "model-b"
        assert model.last_run.rungs[0].step == "switched_off"

        await flip(settings, off=True, model="model-b", reason="also down", by="cli:ops")
        await until(lambda: first.switches.model_off("model-b"))
        asked = len(llm.requests)
        result = await route(first, tenant_id)
        assert result.fallback_reason == Refusal.SWITCHED_OFF and len(llm.requests) == asked
        assert "every model for 'intent_route' is off" in result.rungs[0].detail


async def test_the_agent_answers_from_the_next_model_when_its_first_is_switched_off(
    settings: Settings, engine: AsyncEngine, demo: DemoCredentials, llm: ScriptedLLMServer
) -> None:
    llm.default = reply("Hello! How can I help you today?")
    await flip(settings, off=True, model="model-a", reason="provider incident", by="cli:ops")
    async with running(settings) as app:
        out = await shopper_chat(app, engine, demo).say("hi")
    assert out.engine == "llm" and [r.model for r in llm.requests] == ["model-b"]
    rungs = (await audit_of(engine, out)).data["rungs"]
    assert rungs[0]["step"] == "switched_off" and "provider incident" in rungs[0]["detail"]


async def test_without_redis_a_flip_still_stands_and_arrives_by_polling(
    engine: AsyncEngine, demo: DemoCredentials, tmp_path: Path
) -> None:
    tenant_id = uuid.UUID(demo.tenant_id)
    unreachable = create_redis(f"unix://{tmp_path / 'no-redis.sock'}")
    board = SwitchBoard(session_factory(engine), unreachable, poll_s=0.2)
    try:
        await board.ready()
        async with session_factory(engine)() as session:
            await switch_off(session, tenant_id=tenant_id, feature="seo_product_copy", reason="bad copy", by="x")
            await session.commit()
        assert await announce(unreachable) is False
        await until(lambda: board.tenant_off(tenant_id, "seo_product_copy"))
        assert board.tenant_off(tenant_id, "customer_reply") is None
    finally:
        await board.aclose()
        await unreachable.aclose()


async def test_a_bad_flip_changes_nothing(settings: Settings, engine: AsyncEngine, demo: DemoCredentials) -> None:
    tenant_id = uuid.UUID(demo.tenant_id)
    known = ["customer_reply", "*"]
    bad: list[Callable[[], Any]] = [
        lambda: flip(settings, off=True, tenant_id=tenant_id, feature="customer_reply", reason="  ", by="x"),
        lambda: flip(settings, off=True, tenant_id=tenant_id, model="model-a", reason="why", by="x"),
        lambda: flip(settings, off=True, feature="customer_reply", reason="why", by="x"),
    ]
    for attempt in bad:
        with pytest.raises(SwitchError):
            await attempt()
    with pytest.raises(SwitchError, match="unknown feature 'customer_replay'"):
        check_feature("customer_replay", known)
    async with session_factory(engine)() as session:
        switches = (await session.execute(select(func.count()).select_from(m.KillSwitch))).scalar_one()
        audited = (
            await session.execute(
                select(func.count()).select_from(m.AuditEvent).where(m.AuditEvent.action.like("switch.%"))
            )
        ).scalar_one()
    assert (switches, audited) == (0, 0)
    assert await flip(settings, off=False, tenant_id=tenant_id, feature="customer_reply") is None


async def test_hub_status_json_shows_open_circuits_switches_and_spend(
    settings: Settings, engine: AsyncEngine, demo: DemoCredentials, llm: ScriptedLLMServer, tmp_path: Path
) -> None:
    tenant_id = uuid.UUID(demo.tenant_id)
    async with session_factory(engine)() as session:
        tenant = await session.get(m.Tenant, tenant_id)
        config = TenantConfig.model_validate(
            {
                **tenant.settings,
                "budgets": {"daily_soft": "0.5", "daily_hard": "5"},
                "price_overrides": {"model-a": {"input": "1000", "output": "0"}},  # $1 per 1000 input tokens
            }
        )
        tenant.settings = config.to_column()
        await session.commit()
    failing = settings.model_copy(update={"llm_breaker_failures": 1})
    async with process(failing) as gateway:
        llm.enqueue(reply(route_json(), usage=(1000, 0)))
        answered = await gateway.generate(
            CallContext(tenant_id=tenant_id, tenant=config),
            use_case="intent_route",
            variables={"message": "where is A-10001?", "history": ""},
            fallback=lambda reason: IntentRoute(intent="human_handoff", confidence=0.0, entities={}),
        )
        assert answered.cost == Decimal("1.00000000")
        llm.default = error(503)
        assert (await route(gateway, tenant_id)).fallback_reason == Refusal.MODELS_FAILED
        await gateway.ledger.flush()
    await flip(settings, off=True, model="model-b", reason="provider incident", by="cli:ops")
    await flip(settings, off=True, tenant_id=tenant_id, feature="seo_product_copy", reason="bad copy", by="cli:alice")

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_DATA_DIR": str(tmp_path / "cli"),
        "HUB_DATABASE_URL": settings.resolved_database_url,
        "HUB_REDIS_URL": settings.redis_url or "",
        "HUB_LLM_BASE_URL": llm.base_url,
        "HUB_LLM_API_KEY": "k",
        "HUB_LLM_MODELS": json.dumps(settings.llm_models),
        "HUB_LOG_LEVEL": "WARNING",
    }
    result = await asyncio.to_thread(hub, "status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    models = {entry["model"]: entry for entry in status["models"]}
    assert models["model-a"]["circuit"] == "open" and models["model-a"]["reopens_at"] is not None
    assert {"customer_reply", "intent_route"} <= set(models["model-a"]["features"])
    assert models["model-b"]["switch"]["reason"] == "provider incident"
    [shop] = [t for t in status["tenants"] if t["tenant_id"] == str(tenant_id)]
    assert Decimal(shop["spent_today"]) == Decimal(1) and shop["budget"] == "soft_limit"
    assert [(s["feature"], s["set_by"], s["reason"]) for s in shop["switches"]] == [
        ("seo_product_copy", "cli:alice", "bad copy")
    ]
    assert status["redis"] == "ok" and {q["name"] for q in status["queues"]} == {"hub-jobs", "hub-imaging"}

    table = await asyncio.to_thread(hub, "status", env={**env, "COLUMNS": "200"})
    assert table.returncode == 0 and "provider incident" in table.stdout and "bad copy" in table.stdout


async def test_console_status_and_switch_stay_inside_the_operators_shop(
    settings: Settings, engine: AsyncEngine, demo: DemoCredentials
) -> None:
    tenant_id = uuid.UUID(demo.tenant_id)
    async with session_factory(engine)() as session:
        other = await make_shop(session, "alpha")
    await flip(settings, off=True, tenant_id=other.tenant_id, feature="*", reason="alpha secret", by="cli:alice")
    prompts = load_prompts(settings)
    by = f"operator:{demo.operator_email}"
    redis = create_redis(settings.redis_url or "")
    try:
        async with session_factory(engine)() as session:
            refused = await cc.switch(session, tenant_id, "off customer_reply", redis=redis, prompts=prompts, by=by)
            unknown = await cc.switch(session, tenant_id, "off nope because", redis=redis, prompts=prompts, by=by)
            done = await cc.switch(
                session, tenant_id, "off customer_reply customers see odd answers", redis=redis, prompts=prompts, by=by
            )
            shown = await cc.status(session, tenant_id, redis=redis, settings=settings, prompts=prompts)
        assert refused.markdown.startswith("Cannot do that: a reason is required")
        assert unknown.markdown.startswith("Cannot do that: unknown feature 'nope'")
        assert done.markdown.startswith("Switched off AI for 'customer_reply' for this shop")
        text = shown.markdown
        assert "`customer_reply` since" in text and "customers see odd answers" in text and by in text
        assert "alpha" not in text and str(other.tenant_id) not in text
        assert "| model-a | closed |" in text

        async with session_factory(engine)() as session:
            back = await cc.switch(session, tenant_id, "on customer_reply", redis=redis, prompts=prompts, by=by)
            again = await cc.switch(session, tenant_id, "on customer_reply", redis=redis, prompts=prompts, by=by)
            trail = (
                await session.execute(
                    select(m.AuditEvent.action, m.AuditEvent.actor, m.AuditEvent.data)
                    .where(m.AuditEvent.tenant_id == tenant_id, m.AuditEvent.action.like("switch.%"))
                    .order_by(m.AuditEvent.id)
                )
            ).all()
        assert (
            back.markdown.startswith("Switched AI for 'customer_reply' back on") and "nothing changed" in again.markdown
        )
        assert [(a, actor, d["reason"]) for a, actor, d in trail] == [
            ("switch.off", by, "customers see odd answers"),
            ("switch.on", by, ""),
        ]
    finally:
        await redis.aclose()
