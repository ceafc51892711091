"""Prompt pins over HTTP follow the eval gate of `hub prompts pin`: a passing run of the whole golden set for the
tenant (against its model when one is configured), or a forced reason the audit keeps; on SQLite and Postgres."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from evals.cases import load_cases
from evals.runner import RunSpec, judge, run_suite, store, stored_baseline
from hub.db import models as m
from hub.prompting.registry import load_prompts
from hub.settings import Settings
from service.app import create_app
from tests.conftest import Shop

PIN = {"seo_product_copy": "1.0.0"}


async def patch_pins(api: httpx.AsyncClient, shop: Shop, pins: dict[str, str], **extra: Any) -> httpx.Response:
    body = {"settings": {"prompt_pins": pins}, **extra}
    return await api.patch("/v1/tenant", json=body, headers={"X-Hub-Key": shop.admin_key})


async def pins_of(api: httpx.AsyncClient, shop: Shop) -> dict[str, str]:
    tenant = (await api.get("/v1/tenant", headers={"X-Hub-Key": shop.admin_key})).json()
    return tenant["settings"]["prompt_pins"]


async def pin_events(session: AsyncSession, shop: Shop) -> list[tuple[str, dict[str, Any]]]:
    rows = await session.execute(
        select(m.AuditEvent.action, m.AuditEvent.data)
        .where(m.AuditEvent.tenant_id == shop.tenant_id, m.AuditEvent.action.like("prompt.pinned%"))
        .order_by(m.AuditEvent.id)
    )
    return [(action, data) for action, data in rows]


async def sim_run(settings: Settings, session: AsyncSession, shop: Shop, *, limit: int | None = None) -> uuid.UUID:
    """What `hub eval run -u seo_product_copy --prompt-version 1.0.0 --tenant SHOP --sim [--limit N]` stores."""
    tenant = await session.get(m.Tenant, shop.tenant_id)
    await session.commit()  # nothing held open while the run writes to the same database
    spec = RunSpec("seo_product_copy", prompt_version="1.0.0", tenant=tenant, sim=True, limit=limit)
    result = await run_suite(settings, spec)
    versions = load_prompts(settings).versions("seo_product_copy")
    stored = await store(settings, judge(result, stored_baseline("seo_product_copy", "1.0.0", versions)))
    assert stored.passed, stored.verdict
    return stored.id


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # two real eval runs; the next test covers Postgres
async def test_a_pin_over_http_needs_a_full_passing_eval_run_or_an_audited_force(
    api: httpx.AsyncClient, app_settings: Settings, session: AsyncSession, shops: tuple[Shop, Shop]
) -> None:
    alpha, _ = shops
    refused = await patch_pins(api, alpha, PIN)
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "pin_needs_eval"
    assert "seo_product_copy@1.0.0 has no passing eval run for tenant alpha" in error["message"]
    assert "hub eval run --use-case seo_product_copy --prompt-version 1.0.0 --tenant alpha --sim" in error["message"]
    assert '"force_pins"' in error["message"]
    assert await pins_of(api, alpha) == {} and await pin_events(session, alpha) == []

    await sim_run(app_settings, session, alpha, limit=1)
    partial = await patch_pins(api, alpha, PIN)
    golden = len(load_cases("seo_product_copy"))
    assert partial.status_code == 409 and f"ran 1 of {golden} cases" in partial.json()["error"]["message"]
    assert await pins_of(api, alpha) == {}

    full = await sim_run(app_settings, session, alpha)
    pinned = await patch_pins(api, alpha, PIN)
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["settings"]["prompt_pins"] == PIN == await pins_of(api, alpha)

    forced = await patch_pins(api, alpha, {**PIN, "intent_route": "1.0.0"}, force_pins="hotfix approved by QA lead")
    assert forced.status_code == 200, forced.text
    assert await pins_of(api, alpha) == {**PIN, "intent_route": "1.0.0"}
    events = await pin_events(session, alpha)
    assert [action for action, _ in events] == ["prompt.pinned", "prompt.pinned_without_eval"]
    assert events[0][1]["eval_run"] == str(full) and events[0][1]["use_case"] == "seo_product_copy"
    assert events[1][1]["use_case"] == "intent_route" and events[1][1]["forced"] == "hotfix approved by QA lead"


@pytest.fixture
async def api_with_model(app_settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a model configured (never called: pinning only reads which model serves the tenant)."""
    settings = app_settings.model_copy(
        update={"llm_base_url": "http://127.0.0.1:9/v1", "llm_api_key": SecretStr("k"), "llm_model": "model-x"}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            yield client


def evidence(shop: Shop, *, mode: str, model: str | None, judged: bool = True) -> m.EvalRun:
    """A stored passing run of the whole seo_product_copy set for the shop, as `hub eval run` keeps it; a model
    run has judged scores unless `judged` is False (no judge model graded it)."""
    now = datetime.now(UTC)
    golden = len(load_cases("seo_product_copy"))
    return m.EvalRun(
        started_at=now,
        finished_at=now,
        use_case="seo_product_copy",
        prompt_version="1.0.0",
        mode=mode,
        model=model,
        tenant_id=shop.tenant_id,
        golden_sha256="0" * 64,
        cases=golden,
        golden_cases=golden,
        metrics={"rubric_score": 0.9} if mode == "llm" and judged else {},
        per_case=[],
        passed=True,
    )


async def test_with_a_model_configured_only_a_run_against_that_model_is_evidence_for_a_pin(
    api_with_model: httpx.AsyncClient, session: AsyncSession, shops: tuple[Shop, Shop]
) -> None:
    alpha, _ = shops
    session.add(evidence(alpha, mode="sim", model="hub-sim"))
    session.add(evidence(alpha, mode="llm", model="model-y"))
    await session.commit()
    refused = await patch_pins(api_with_model, alpha, PIN)
    assert refused.status_code == 409, refused.text
    message = refused.json()["error"]["message"]
    assert "over its whole golden set against model-x" in message and "--model model-x" in message

    session.add(evidence(alpha, mode="llm", model="model-x", judged=False))
    await session.commit()
    unjudged = await patch_pins(api_with_model, alpha, PIN)
    assert unjudged.status_code == 409, "a model run no judge graded is not a quality run"
    message = unjudged.json()["error"]["message"]
    assert "no passing quality run" in message and "has no judged scores" in message and "--quality" in message

    session.add(evidence(alpha, mode="llm", model="model-x"))
    await session.commit()
    assert (await patch_pins(api_with_model, alpha, PIN)).status_code == 200
    assert await pins_of(api_with_model, alpha) == PIN
