"""A model that hangs: the shopper still gets an answer by the turn's deadline, and nothing else waits on it.

The scripted model server stalls every request; on SQLite and on Postgres, more shoppers' turns wait on it at
once than the database pool has connections, while another tenant's shoppers and operators keep being answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from evals.llm_server import ScriptedLLMServer, stall
from hub.db import models as m
from hub.settings import Settings
from service.app import create_app
from tests.conftest import Shop, make_shop

HUNG_TURNS = 16
"""More than the engine's pool holds (5 + 10 overflow): a turn holding a connection would starve the rest."""


@pytest.fixture
def hung_llm() -> AsyncIterator[ScriptedLLMServer]:
    with ScriptedLLMServer(default=stall(3600)) as server:
        yield server


@asynccontextmanager
async def _client(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, AsyncEngine]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        engine = app.state.resources.sessions.kw["bind"]
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            yield client, engine


def _with_model(settings: Settings, llm: ScriptedLLMServer, **extra: object) -> Settings:
    return settings.model_copy(
        update={"llm_base_url": llm.base_url, "llm_api_key": SecretStr("k"), "llm_model": "model-a", **extra}
    )


async def _chat(client: httpx.AsyncClient, key: str, session_id: str, text: str) -> httpx.Response:
    return await client.post("/v1/chat", json={"session_id": session_id, "message": text}, headers={"X-Hub-Key": key})


async def test_a_hung_model_gets_the_deterministic_answer_by_the_deadline_and_the_audit_says_why(
    app_settings: Settings, engine: AsyncEngine, session: AsyncSession, hung_llm: ScriptedLLMServer
) -> None:
    shop = await make_shop(session, "alpha")
    settings = _with_model(app_settings, hung_llm, chat_turn_deadline_s=4.0)
    async with _client(settings) as (client, _):
        r = await _chat(client, shop.storefront_key, "s1", f"where is my order {shop.order_number}?")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["engine"] == "deterministic"
        assert hung_llm.requests, "the model was asked before the deadline cut it off"
        audit = (
            await session.execute(select(m.AuditEvent.data).where(m.AuditEvent.subject == body["message_id"]))
        ).scalar_one()
        assert audit["fallback_reason"].startswith("deadline"), audit["fallback_reason"]
        assert audit["engine"] == "deterministic"


async def test_turns_waiting_on_a_hung_model_hold_no_connection_and_no_lock(
    app_settings: Settings, engine: AsyncEngine, session: AsyncSession, hung_llm: ScriptedLLMServer
) -> None:
    waiting, other = await make_shop(session, "alpha"), await make_shop(session, "bravo")
    other_tenant = await session.get(m.Tenant, other.tenant_id)
    assert other_tenant is not None
    other_tenant.settings = {"ai_enabled": {"customer_reply": False}}  # bravo's shoppers get the engine: no model
    await session.commit()
    settings = _with_model(app_settings, hung_llm, chat_turn_deadline_s=600.0)
    async with _client(settings) as (client, app_engine):
        hung = [
            asyncio.create_task(_chat(client, waiting.storefront_key, f"hung-{i}", "do you have tees?"))
            for i in range(HUNG_TURNS)
        ]
        await asyncio.to_thread(hung_llm.wait_for_requests, HUNG_TURNS, 60.0)
        checked_out = app_engine.sync_engine.pool.checkedout()
        answers = await _other_tenant_traffic(client, other)
        assert not any(t.done() for t in hung), "the hung turns were still waiting while the other tenant was served"
        hung_llm.stop()  # the model ends its stalls: every waiting turn finishes
        finished = await asyncio.gather(*hung)
    assert checked_out == 0, f"{checked_out} pooled connections were held by turns waiting on the model"
    assert [r.status_code for r in answers] == [200] * len(answers), [r.text for r in answers if r.status_code != 200]
    assert {r.status_code for r in finished} == {200}
    assert all(r.json()["reply"] for r in finished)


async def _other_tenant_traffic(client: httpx.AsyncClient, shop: Shop) -> list[httpx.Response]:
    """Reads and writes of another tenant: catalog reads, its shoppers' turns (which store rows), an order lookup."""
    operator = {"X-Hub-Key": shop.operator_key}
    answers = []
    for i in range(5):
        answers.append(await client.get("/v1/products", headers=operator))
        answers.append(await client.get(f"/v1/products/{shop.sku}", headers=operator))
        answers.append(await _chat(client, shop.storefront_key, f"other-{i}", f"where is order {shop.order_number}?"))
    return answers


async def test_signed_in_requests_answer_while_another_transaction_holds_the_keys_and_their_use_is_written_after(
    app_settings: Settings, engine: AsyncEngine, session: AsyncSession
) -> None:
    shop = await make_shop(session, "alpha")
    async with _client(app_settings) as (client, app_engine):
        updates: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
                updates.append(statement)

        event.listen(app_engine.sync_engine, "before_cursor_execute", record)
        async with engine.connect() as holder:
            # another writer holds every key row (on SQLite: the database's write lock) until it commits
            await holder.execute(update(m.ApiKey).values(last_used_at=m.ApiKey.last_used_at))
            async with asyncio.timeout(20):  # a request that waited on the lock would hang here: fail instead
                answers = [await client.get("/v1/products", headers={"X-Hub-Key": shop.operator_key}) for _ in range(3)]
            await holder.commit()
        assert [r.status_code for r in answers] == [200, 200, 200]
        for _ in range(100):
            if (
                used := (
                    await session.execute(select(m.ApiKey.last_used_at).where(m.ApiKey.role == m.ApiKeyRole.OPERATOR))
                ).scalar_one()
            ) is not None:
                break
            session.expire_all()
            await asyncio.sleep(0.1)
        event.remove(app_engine.sync_engine, "before_cursor_execute", record)
    assert used is not None, "the key's use was written once the lock was gone"
    assert len(updates) == 1, "three uses in a minute are one write"
