"""Console commands for the request queue (/requests, /approve, /deny) and for shoppers waiting for a person: /handoffs
says why and what they want, and every open console of the shop hears of a handover as it happens."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_ui import console_commands as cc
from hub.db.engine import session_factory
from hub.db.models import OrderStatus, RequestKind
from hub.jobs import events_channel
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from tests.agent_harness import running
from tests.service.test_order_requests_api import NEW_ADDRESS, ask_for, orders_in


async def test_requests_lists_the_queue_and_approve_deny_decide_as_the_operator(
    engine: AsyncEngine, demo: DemoCredentials
) -> None:
    tenant_id = uuid.UUID(demo.tenant_id)
    async with session_factory(engine)() as session:
        [delivered] = await orders_in(session, tenant_id, OrderStatus.DELIVERED, 1)
        [paid] = await orders_in(session, tenant_id, OrderStatus.PAID, 1)
        rma = (await ask_for(session, tenant_id, delivered, RequestKind.RETURN, reason="doesnt_fit")).reference
        adr = (await ask_for(session, tenant_id, paid, RequestKind.ADDRESS_CHANGE, address=NEW_ADDRESS)).reference
        number = delivered.number

        queue = (await cc.requests(session, tenant_id, "")).markdown
        assert "**2 requested requests**" in queue and "| waiting |" in queue
        row = next(line for line in queue.splitlines() if rma in line)
        assert f"| return | {number} |" in row and "doesnt fit · too small" in row and "| 0m |" in row
        assert "to 1 Harbour St, Boston" in next(line for line in queue.splitlines() if adr in line)
        returns = (await cc.requests(session, tenant_id, "returns")).markdown
        assert rma in returns and adr not in returns
        assert (
            await cc.requests(session, tenant_id, "cancellations")
        ).markdown == "No requested cancellation requests."
        assert (await cc.requests(session, tenant_id, "soon")).markdown.startswith("Unknown word 'soon'")

        denied = await cc.decide_request(session, tenant_id, f"{rma} worn twice", approve=False, by="operator:o@x")
        assert denied.markdown.startswith(f"Denied {rma}") and "now `delivered`" in denied.markdown
        twice = await cc.decide_request(session, tenant_id, rma, approve=True, by="operator:p@x")
        assert twice.markdown == f"Cannot do that: {rma} was already denied by operator:o@x."
        unknown = await cc.decide_request(session, tenant_id, "RMA-NOPE", approve=True, by="operator:o@x")
        assert unknown.markdown.startswith("Cannot do that: no request 'RMA-NOPE'")
        assert (await cc.decide_request(session, tenant_id, "", approve=True, by="o")).markdown.startswith("`/approve`")
        approved = await cc.decide_request(session, tenant_id, adr.lower(), approve=True, by="operator:o@x")
        assert approved.markdown.startswith(f"Approved {adr}")

        decided = (await cc.requests(session, tenant_id, "denied")).markdown
        assert "| decided by | note |" in decided and "| operator:o@x | worn twice |" in decided
        other_shop = (await cc.requests(session, uuid.uuid4(), "approved")).markdown
        assert other_shop == "No approved requests."


async def test_a_shopper_handed_to_a_person_is_announced_and_handoffs_says_why(
    app_settings: Settings, engine: AsyncEngine, demo: DemoCredentials
) -> None:
    tenant_id = uuid.UUID(demo.tenant_id)
    async with running(app_settings) as app:
        pubsub = app.state.resources.redis.pubsub()
        await pubsub.subscribe(events_channel(tenant_id))
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
                r = await client.post(
                    "/v1/chat",
                    json={"session_id": "web-ho", "message": "i want to talk to a real person please"},
                    headers={"X-Hub-Key": demo.storefront_key},
                )
            assert r.status_code == 200 and r.json()["handled_by"] == "human", r.text
            event = await _next_event(pubsub)
        finally:
            await pubsub.aclose()
    assert event["kind"] == "handoff" and event["channel"] == "web" and event["reason"] == "customer_request"
    assert event["reference"].startswith("HO-") and event["summary"]
    note = cc.job_event(event)
    assert note is not None and f"/takeover {event['conversation_id']}" in note.markdown
    assert "customer request" in note.markdown

    async with session_factory(engine)() as session:
        listed = (await cc.handoffs(session, tenant_id)).markdown
    assert "| reason | summary |" in listed
    row = listed.splitlines()[2]
    assert event["conversation_id"] in row and "| customer request |" in row
    assert event["summary"][:40] in row and "i want to talk to a real person please" in row


async def _next_event(pubsub: Any) -> dict[str, Any]:
    """The first message published on the channel (the subscription's confirmation is skipped)."""
    async with asyncio.timeout(10):
        while True:
            raw = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if raw is not None:
                return json.loads(raw["data"])
