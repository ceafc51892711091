# ruff: noqa: F811 — tests take the fixtures imported from the chat API tests as arguments

"""Shoppers act on their orders through `POST /v1/chat`: returns, cancellations and address changes, with no model
(the engine's slot-filling flows) and with a scripted one (the same tools through the graph), on both databases."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from evals.llm_server import ScriptedLLMServer, last_tool_result, reply, respond, tool_call
from hub.db import models as m
from hub.db.engine import session_factory
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from hub.shop_events.delivery import deliver_due, open_client, webhook_secret
from tests.service.test_chat_api import chat, chat_with_model, llm, say  # noqa: F401 — its fixtures, shared
from tests.service.test_shop_events import ShopReceiver


async def requests_of(engine: AsyncEngine, number: str) -> list[m.OrderRequest]:
    async with session_factory(engine)() as session:
        rows = await session.execute(
            select(m.OrderRequest).where(
                m.OrderRequest.order_number == number, m.OrderRequest.status != m.RequestStatus.DRAFT
            )
        )
        return list(rows.scalars())


async def order(engine: AsyncEngine, number: str) -> m.Order:
    async with session_factory(engine)() as session:
        return (await session.execute(select(m.Order).where(m.Order.number == number))).scalar_one()


async def events(engine: AsyncEngine, type_: str) -> list[m.OutboxEvent]:
    async with session_factory(engine)() as session:
        return list((await session.execute(select(m.OutboxEvent).where(m.OutboxEvent.type == type_))).scalars())


async def an_order(engine: AsyncEngine, status: m.OrderStatus, *, skip: set[str] = frozenset()) -> tuple[str, str]:
    """Another demo order in `status`: its number and its customer's email."""
    async with session_factory(engine)() as session:
        rows = await session.execute(
            select(m.Order.number, m.Customer.email)
            .join(m.Customer, m.Customer.id == m.Order.customer_id)
            .where(m.Order.status == status)
            .order_by(m.Order.placed_at.desc())
        )
        return next((n, e) for n, e in rows.all() if n not in skip)


async def test_a_return_is_walked_through_confirmed_once_and_sent_to_the_shop(
    chat: httpx.AsyncClient, demo: DemoCredentials, engine: AsyncEngine
) -> None:
    key, number, email = demo.storefront_key, demo.delivered_order_id, demo.delivered_order_email
    first = await say(chat, key, "ret-1", f"Please start a return for {number}")
    assert first["intent"] == "returns_refunds" and "email or phone" in first["reply"]
    why = await say(chat, key, "ret-1", email)
    assert why["tools"] == ["start_return"] and "reason" in why["reply"]
    assert "Doesn't fit" in [q["title"] for q in why["quick_replies"]]
    condition = await say(chat, key, "ret-1", "Doesn't fit")
    assert "unworn" in condition["reply"] and [q["id"] for q in condition["quick_replies"]] == ["yes", "no"]
    proposal = await say(chat, key, "ret-1", "yes")
    assert "Shall I go ahead?" in proposal["reply"] and number in proposal["reply"]
    assert await requests_of(engine, number) == [], "nothing is recorded before the shopper confirms"
    done = await say(chat, key, "ret-1", "Yes, go ahead")
    [request] = await requests_of(engine, number)
    assert request.reference.startswith("RMA-") and request.reference in done["reply"]
    assert request.status == m.RequestStatus.REQUESTED and request.reason == "doesnt_fit"
    assert "refund" not in done["reply"].split("Refunds are made once")[0].lower(), "no refund is promised"
    assert (await order(engine, number)).status == m.OrderStatus.RETURN_REQUESTED
    [event] = [
        e for e in await events(engine, "return.requested") if e.data["request"]["reference"] == request.reference
    ]
    assert event.data["order"]["number"] == number and event.status == m.EventStatus.PENDING
    # asking again, in this conversation or another, makes no second request
    again = await say(chat, key, "ret-2", f"I want to return order {number}, my email is {email}")
    assert request.reference in again["reply"] and len(await requests_of(engine, number)) == 1
    status = await say(chat, key, "ret-3", f"what's the status of my return {request.reference}? {email}")
    assert status["tools"] == ["return_status"] and "waiting for the shop" in status["reply"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_wrong_email_changes_nothing_and_reveals_nothing(
    chat: httpx.AsyncClient, demo: DemoCredentials, engine: AsyncEngine
) -> None:
    key, number = demo.storefront_key, demo.unfulfilled_order_id
    wrong = await say(chat, key, "id-1", f"cancel my order {number}, email someone.else@example.com")
    unknown = await say(chat, key, "id-2", "cancel my order A-99999, email someone.else@example.com")
    assert wrong["reply"] == unknown["reply"] and "couldn't find" in wrong["reply"]
    assert (await order(engine, number)).status == m.OrderStatus.PAID
    async with session_factory(engine)() as session:
        drafts = await session.scalar(select(func.count()).select_from(m.OrderRequest))
    assert drafts == 0


async def test_a_cancellation_before_fulfilment_and_a_refusal_after_it(
    chat: httpx.AsyncClient, demo: DemoCredentials, engine: AsyncEngine
) -> None:
    key = demo.storefront_key
    number, email = demo.unfulfilled_order_id, demo.unfulfilled_order_email
    proposal = await say(chat, key, "cx-1", f"I want to cancel my order {number}, email {email}")
    assert proposal["intent"] == "order_change" and "Shall I go ahead?" in proposal["reply"]
    declined = await say(chat, key, "cx-1", "no")
    assert "haven't changed anything" in declined["reply"] and await requests_of(engine, number) == []
    await say(chat, key, "cx-1", f"actually yes, please cancel {number} {email}")
    done = await say(chat, key, "cx-1", "yes")
    [request] = await requests_of(engine, number)
    assert request.reference in done["reply"] and request.kind == m.RequestKind.CANCELLATION
    assert (await order(engine, number)).status == m.OrderStatus.CANCEL_REQUESTED
    assert request.previous_status == m.OrderStatus.PAID
    shipped = await say(chat, key, "cx-2", f"cancel order {demo.sample_order_id} {demo.sample_order_email}")
    assert "can't be cancelled" in shipped["reply"] and "return" in shipped["reply"]
    assert await requests_of(engine, demo.sample_order_id) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_address_change_asks_for_what_is_missing_then_records_the_checked_address(
    chat: httpx.AsyncClient, demo: DemoCredentials, engine: AsyncEngine
) -> None:
    key = demo.storefront_key
    number, email = await an_order(engine, m.OrderStatus.PAID, skip={demo.unfulfilled_order_id})
    asked = await say(chat, key, "ad-1", f"I need to change the delivery address of order {number}, {email}")
    assert "new delivery address" in asked["reply"]
    partial = await say(chat, key, "ad-1", "12 Oak Ave, Portland")
    assert "postal code" in partial["reply"] and "state" in partial["reply"]
    proposal = await say(chat, key, "ad-1", "12 Oak Ave, Portland, OR 97201")
    assert "12 Oak Ave" in proposal["reply"] and "97201" in proposal["reply"]
    done = await say(chat, key, "ad-1", "yes")
    [request] = await requests_of(engine, number)
    assert request.kind == m.RequestKind.ADDRESS_CHANGE and request.reference in done["reply"]
    after = await say(chat, key, "ad-1", "ok")
    assert "anything else" in after["reply"], "a bare ok after the flow is not told what the shop is about"
    assert request.address == {
        "street_address": "12 Oak Ave",
        "city": "Portland",
        "postal_code": "97201",
        "country_area": "OR",
        "country_code": "US",
    }


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_returns_the_policy_does_not_allow(
    chat: httpx.AsyncClient, demo: DemoCredentials, engine: AsyncEngine
) -> None:
    key = demo.storefront_key
    early = await say(chat, key, "ne-1", f"I want to return {demo.sample_order_id}, {demo.sample_order_email}")
    assert "hasn't been delivered yet" in early["reply"]
    async with session_factory(engine)() as session:
        old = (
            await session.execute(
                select(m.Order.number, m.Customer.email)
                .join(m.Customer, m.Customer.id == m.Order.customer_id)
                .where(
                    m.Order.status == m.OrderStatus.DELIVERED,
                    m.Order.updated_at < datetime.now(UTC) - timedelta(days=45),
                )
                .limit(1)
            )
        ).one()
    late = await say(chat, key, "ne-2", f"I want to return {old[0]}, {old[1]}")
    assert "return window" in late["reply"] and "closed" in late["reply"]
    assert await requests_of(engine, old[0]) == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_spanish_shopper_returns_an_item_in_spanish(
    chat: httpx.AsyncClient, demo: DemoCredentials, engine: AsyncEngine
) -> None:
    key, number, email = demo.storefront_key, demo.delivered_order_id, demo.delivered_order_email
    start = await say(chat, key, "es-1", f"Quiero devolver mi pedido {number}, mi correo es {email}")
    assert start["language"] == "es" and start["intent"] == "returns_refunds"
    assert "reason" not in start["reply"] and start["quick_replies"]
    titles = [q["title"] for q in start["quick_replies"]]
    condition = await say(chat, key, "es-1", titles[0])
    proposal = await say(chat, key, "es-1", "sí")
    assert condition["quick_replies"] and "?" in proposal["reply"]
    done = await say(chat, key, "es-1", proposal["quick_replies"][0]["title"])
    [request] = await requests_of(engine, number)
    assert request.reference in done["reply"] and done["language"] == "es"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_with_a_model_the_tool_records_only_after_the_shoppers_yes(
    chat_with_model: httpx.AsyncClient, demo: DemoCredentials, llm: ScriptedLLMServer, engine: AsyncEngine
) -> None:
    key, number, email = demo.storefront_key, demo.unfulfilled_order_id, demo.unfulfilled_order_email
    args = {"order_number": number, "email_or_phone": email}

    def propose(messages: list[dict]):
        result = last_tool_result(messages)
        assert result["outcome"] == "needs_confirmation"
        return reply(f"I can ask the shop to cancel order {number}. Shall I go ahead?")

    # a model that confirms at once, without asking: nothing is recorded, the tool proposes instead
    llm.enqueue(tool_call("cancel_order", {**args, "confirm": True}), respond(propose))
    first = await say(chat_with_model, key, "llm-1", f"cancel {number} {email}")
    assert first["engine"] == "llm" and [q["id"] for q in first["quick_replies"]] == ["yes", "no"]
    assert await requests_of(engine, number) == []

    def confirmed(messages: list[dict]):
        result = last_tool_result(messages)
        return reply(f"Done: cancellation requested for order {number}, reference {result['reference']}.")

    llm.enqueue(tool_call("cancel_order", {**args, "confirm": True}), respond(confirmed))
    done = await say(chat_with_model, key, "llm-1", "yes please")
    [request] = await requests_of(engine, number)
    assert done["engine"] == "llm" and request.reference in done["reply"]

    # a model that invents a reference is caught by the reply validator and replaced
    llm.enqueue(tool_call("return_status", {"order_number_or_reference": number, "email_or_phone": email}))
    llm.default = reply("Your cancellation CXL-ZZZZ9999 was approved and refunded.")
    lied = await say(chat_with_model, key, "llm-2", f"any news on the cancellation of {number}? {email}")
    assert "CXL-ZZZZ9999" not in lied["reply"] and lied["engine"] == "deterministic"


async def test_the_shop_hears_of_the_request_and_the_decision_signed_and_retried(
    chat: httpx.AsyncClient, demo: DemoCredentials, engine: AsyncEngine, app_settings: Settings
) -> None:
    """A cancellation asked for in the widget reaches the shop's webhook, signed, after one failed try; the operator's
    approval (over the API) cancels the order and reaches the shop too."""
    sessions = session_factory(engine)
    async with sessions() as session:
        tenant = await session.get(m.Tenant, uuid.UUID(demo.tenant_id))
        assert tenant is not None
        secret = webhook_secret(app_settings.secret_key.get_secret_value(), tenant)
    with ShopReceiver(secret=secret) as shop:
        async with sessions() as session:
            tenant = await session.get(m.Tenant, uuid.UUID(demo.tenant_id))
            assert tenant is not None
            tenant.settings = {**tenant.settings, "webhook_url": shop.url}
            await session.commit()
        shop.answer(503)
        number, email = demo.unfulfilled_order_id, demo.unfulfilled_order_email
        await say(chat, demo.storefront_key, "ev-1", f"please cancel my order {number}, {email}")
        await say(chat, demo.storefront_key, "ev-1", "yes")
        [request] = await requests_of(engine, number)
        settings = app_settings.model_copy(update={"shop_webhook_backoff_s": 0.01, "shop_webhook_backoff_max_s": 0.01})
        async with open_client(settings) as client:
            assert (await deliver_due(sessions, settings, client))["failed"] == 1
            await asyncio.sleep(0.05)
            assert (await deliver_due(sessions, settings, client))["delivered"] == 1
            [refused, accepted] = shop.received
            assert refused.status == 503 and accepted.verified and accepted.body == refused.body
            body = json.loads(accepted.body)
            assert (
                body["type"] == "order.cancel_requested" and body["data"]["request"]["reference"] == request.reference
            )
            assert body["data"]["order"]["status"] == "cancel_requested"
            approved = await chat.post(
                f"/v1/cancellations/{request.reference}/approve",
                json={"note": "refund via Shopify"},
                headers={"X-Hub-Key": demo.operator_key},
            )
            assert approved.status_code == 200, approved.text
            assert (await deliver_due(sessions, settings, client))["delivered"] == 1
        decided = json.loads(shop.accepted[-1].body)
        assert decided["type"] == "order.cancelled" and decided["data"]["order"]["status"] == "cancelled"
    shown = await chat.get(f"/v1/orders/{number}", headers={"X-Hub-Key": demo.operator_key})
    assert shown.json()["status"] == "cancelled"
    again = await say(chat, demo.storefront_key, "ev-2", f"cancel {number} {email}")
    assert "cancelled" in again["reply"] and len(await requests_of(engine, number)) == 1


async def test_a_double_tap_on_yes_records_one_request_and_one_event(
    chat: httpx.AsyncClient, demo: DemoCredentials, engine: AsyncEngine
) -> None:
    key, number, email = demo.storefront_key, demo.unfulfilled_order_id, demo.unfulfilled_order_email
    await say(chat, key, "tap-1", f"cancel my order {number} {email}")
    await say(chat, key, "tap-2", f"cancel my order {number} {email}")  # and again, in a second tab
    replies = await asyncio.gather(
        say(chat, key, "tap-1", "yes"), say(chat, key, "tap-1", "yes"), say(chat, key, "tap-2", "yes")
    )
    [request] = await requests_of(engine, number)
    assert all(request.reference in r["reply"] for r in replies), "\n".join(r["reply"] for r in replies)
    later = await say(chat, key, "tap-1", "yes")  # the button tapped again once all is quiet
    assert request.reference in later["reply"]
    assert len([e for e in await events(engine, "order.cancel_requested") if e.data["order"]["number"] == number]) == 1
