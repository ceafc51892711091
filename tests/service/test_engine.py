"""The deterministic engine answers real shoppers with no model, grounded in tool outputs, on both databases."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.engine import DeterministicEngine, Pending, ShopVoice
from hub.db import models as m
from hub.prompting.outputs import Intent
from hub.seed.demo import DemoCredentials
from hub.text import format_date, format_money
from tools import engagement as eng
from tools.context import Audience, ToolContext
from tools.validators import validate_reply

VOICE = ShopVoice(name="Northwind Threads")
WEB = m.Channel.WEB


@pytest.fixture(scope="module")
def bot() -> DeterministicEngine:
    return DeterministicEngine()


def shopper(session: AsyncSession, demo: DemoCredentials, customer_id: uuid.UUID | None = None) -> ToolContext:
    return ToolContext(
        session=session,
        tenant_id=uuid.UUID(demo.tenant_id),
        audience=Audience.CUSTOMER,
        channel=m.Channel.WEB,
        customer_id=customer_id,
    )


async def test_every_intent_gets_a_grounded_answer(
    session: AsyncSession, demo: DemoCredentials, bot: DeterministicEngine
) -> None:
    product = (await session.execute(select(m.Product).where(m.Product.sku == demo.sample_sku))).scalar_one()
    cases = [
        ("hi there", Intent.GREETING, "assistant", []),
        ("do u have any hoodies under 80 dollars", Intent.PRODUCT_SEARCH, "Here's what I found", ["search_products"]),
        (f"is the {product.title} in stock in M?", Intent.STOCK_CHECK, product.sku, ["check_stock"]),
        ("how long do refunds take once you get my return", Intent.RETURNS_REFUNDS, "policy", ["policy_answer"]),
        ("do you ship to canada and how much is it", Intent.SHIPPING_DELIVERY, "policy", ["policy_answer"]),
        ("can i pay with paypal", Intent.PAYMENT, "policy", ["policy_answer"]),
        ("i want to speak to a real person please", Intent.HUMAN_HANDOFF, "reference is HO-", ["handoff_to_human"]),
        (
            "this is the second time my parcel arrived damaged, really disappointed",
            Intent.COMPLAINT,
            "reference",
            ["handoff_to_human"],
        ),
        ("whats the weather in paris tomorrow", Intent.OUT_OF_SCOPE, "I can only help", []),
    ]
    for text, intent, expected, tools in cases:
        turn = await bot.answer(shopper(session, demo), text, pending=Pending(), voice=VOICE)
        assert turn.intent == intent, text
        assert expected in turn.reply, (text, turn.reply)
        assert turn.tools == tools, text
        assert validate_reply(turn.reply, tool_outputs=turn.outputs, channel=m.Channel.WHATSAPP) == [], (
            text,
            turn.reply,
        )


async def test_order_status_asks_for_what_is_missing_then_answers(
    session: AsyncSession, demo: DemoCredentials, bot: DeterministicEngine
) -> None:
    first = await bot.answer(shopper(session, demo), "where is my order??", pending=Pending(), voice=VOICE)
    assert first.intent == Intent.ORDER_STATUS and "order number" in first.reply and first.tools == []
    second = await bot.answer(shopper(session, demo), f"its {demo.sample_order_id}", pending=first.pending, voice=VOICE)
    assert "email or phone" in second.reply and second.pending.order_number == demo.sample_order_id
    third = await bot.answer(shopper(session, demo), demo.sample_order_email, pending=second.pending, voice=VOICE)
    assert third.tools == ["order_status"]
    assert f"Order {demo.sample_order_id} is shipped" in third.reply and "tracking number" in third.reply
    assert (
        validate_reply(
            third.reply, tool_outputs=third.outputs, channel=m.Channel.WEB, customer_email=demo.sample_order_email
        )
        == []
    )


async def test_a_wrong_email_reveals_nothing_about_the_order(
    session: AsyncSession, demo: DemoCredentials, bot: DeterministicEngine
) -> None:
    turn = await bot.answer(
        shopper(session, demo),
        f"status of {demo.sample_order_id}? my email is someone.else@example.com",
        pending=Pending(),
        voice=VOICE,
    )
    assert turn.tools == ["order_status"] and "couldn't find an order" in turn.reply
    assert "shipped" not in turn.reply and "tracking" not in turn.reply


async def test_every_fact_the_engine_writes_is_one_the_validator_checks(
    session: AsyncSession, demo: DemoCredentials, bot: DeterministicEngine
) -> None:
    """Validated against no tool output, each price, SKU, order and date of a real reply is reported: none
    is written in a form the validator does not read."""
    ask = f"tell me about {demo.sample_sku}"
    product = await bot.answer(shopper(session, demo), ask, pending=Pending(), voice=VOICE)
    detail = product.outputs[0]
    assert isinstance(detail, eng.ProductDetail)
    money = format_money(detail.price, detail.currency)
    assert money in product.reply and validate_reply(product.reply, tool_outputs=product.outputs, channel=WEB) == []
    assert {
        f"price {money} does not appear in this turn's tool outputs",
        f"SKU {detail.sku} does not appear in this turn's tool outputs",
    } <= set(validate_reply(product.reply, tool_outputs=[], channel=WEB))

    ask = f"where is {demo.sample_order_id}, my email is {demo.sample_order_email}"
    order = await bot.answer(shopper(session, demo), ask, pending=Pending(), voice=VOICE)
    status = order.outputs[0]
    assert isinstance(status, eng.OrderStatusResult) and status.order is not None and status.order.eta is not None
    eta = format_date(status.order.eta)
    assert eta in order.reply and validate_reply(order.reply, tool_outputs=order.outputs, channel=WEB) == []
    assert {
        f"the reply says order {demo.sample_order_id} is shipped, but no tool output this turn covers it",
        f"date {eta} does not appear in this turn's tool outputs",
    } <= set(validate_reply(order.reply, tool_outputs=[], channel=WEB))


async def test_a_named_product_in_a_two_letter_size_is_found(
    session: AsyncSession, demo: DemoCredentials, bot: DeterministicEngine
) -> None:
    """In "Slub Cotton Crew Tee in XL" the size is a filter, so "XL" is not also a word the tee's text must hold."""
    tee = (await session.execute(select(m.Product).where(m.Product.title == "Slub Cotton Crew Tee"))).scalar_one()
    assert "XL" in tee.attributes["sizes"]
    found = await eng.search_products(
        shopper(session, demo), eng.SearchProductsInput(query="Slub Cotton Crew Tee in XL", size="XL")
    )
    assert tee.sku in [card.sku for card in found.products]

    for text in ("Slub Cotton Crew Tee in XL", "do you have the slub cotton crew tee in 2XL?"):
        turn = await bot.answer(shopper(session, demo), text, pending=Pending(), voice=VOICE)
        # Named, the tee is looked up, its stock checked, or searched for with the size as a filter: never missed.
        assert turn.tools in (["get_product"], ["check_stock"], ["search_products"]), text
        if turn.tools == ["search_products"]:
            assert turn.args[0]["size"] in {"XL", "XXL"}, turn.args
        assert tee.sku in turn.reply and "couldn't find" not in turn.reply, turn.reply
        assert validate_reply(turn.reply, tool_outputs=turn.outputs, channel=WEB) == [], turn.reply
