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
from tools.context import Audience, ToolContext
from tools.validators import validate_reply

VOICE = ShopVoice(name="Northwind Threads")


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
