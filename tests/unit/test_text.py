"""What the engine and the tools write, the validators and the entity reader read back: prices, SKUs, orders, dates.

Every figure comes from the demo shop, so each form the service really writes is tried, not a hand-picked few.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from agents.entities import extract_entities
from hub.db.models import Channel
from hub.seed.catalog import FIRST_ORDER_NUMBER, FIRST_SKU, SUPPORT_PHONE, DemoShop, build_demo_shop
from hub.text import (
    EMAIL,
    ISO_DATE,
    ORDER_NUMBER,
    ORDER_REFERENCE,
    PHONE,
    SKU_LIKE,
    MoneyStyle,
    format_date,
    format_money,
    format_order_number,
    format_sku,
    format_usd_limit,
    order_number_spellings,
    prices_in,
    same_phone,
)
from tools.validators import validate_reply

STYLES: tuple[MoneyStyle, ...] = ("exact", "grouped", "cents")
CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
"""The currencies a reply's prices are checked in."""


@pytest.fixture(scope="module")
def shop() -> DemoShop:
    return build_demo_shop(datetime(2025, 11, 26, 15, 30, 12, tzinfo=UTC))


def problems(reply: str, outputs: list[dict[str, Any]], **kwargs: Any) -> list[str]:
    return validate_reply(reply, tool_outputs=outputs, channel=Channel.WEB, **kwargs)


# --- money --------------------------------------------------------------------------------------------


def test_amounts_are_written_in_each_style() -> None:
    amount = Decimal("1049.90")
    assert format_money(amount, "USD") == "$1049.90"
    assert format_money(amount, "USD", style="grouped") == "$1,049.90"
    assert format_money(Decimal("0.5"), "USD", style="cents") == "$0.50"
    assert format_money(amount, "EUR", style="grouped") == "1,049.90 EUR"
    assert format_usd_limit(None) == "–" and format_usd_limit(Decimal("5"), style="cents") == "$5.00"


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("currency", CURRENCIES)
def test_every_demo_price_reads_back_as_written(shop: DemoShop, currency: str, style: MoneyStyle) -> None:
    for product in shop.products:
        written = format_money(product["price"], currency, style=style)
        found = list(prices_in(f"The {product['title']} costs {written}, delivered."))
        assert [(p.text, p.amount) for p in found] == [(written, product["price"])]
        assert currency in found[0].currencies


@pytest.mark.parametrize("style", STYLES)
def test_the_validator_checks_every_price_the_engine_writes(shop: DemoShop, style: MoneyStyle) -> None:
    for product in shop.products:
        card = {"sku": product["sku"], "price": str(product["price"]), "currency": product["currency"]}
        written = format_money(product["price"], product["currency"], style=style)
        reply = f"{product['title']} ({product['sku']}) costs {written} and is in stock."
        assert problems(reply, [card]) == []
        invented = {**card, "price": str(product["price"] + 1)}
        assert problems(reply, [invented]) == [f"price {written} does not appear in this turn's tool outputs"]


# --- SKUs and order numbers ---------------------------------------------------------------------------


def test_every_demo_sku_is_the_one_the_catalog_and_the_readers_use(shop: DemoShop) -> None:
    skus = [p["sku"] for p in shop.products]
    assert skus == [format_sku(FIRST_SKU + i) for i in range(len(skus))]
    for sku in skus:
        assert [m.group(0) for m in SKU_LIKE.finditer(f"Try the {sku}.")] == [sku]
        assert extract_entities(f"is {sku.lower().replace('-', ' ')} in stock?").skus == [sku]
    assert problems(f"Try {skus[0]}.", [{"sku": skus[1]}]) == [
        f"SKU {skus[0]} does not appear in this turn's tool outputs"
    ]


def test_every_demo_order_number_is_read_back_however_the_shopper_writes_it(shop: DemoShop) -> None:
    numbers = [o["number"] for o in shop.orders]
    assert numbers == [format_order_number(FIRST_ORDER_NUMBER + i) for i in range(len(numbers))]
    for number in numbers:
        assert ORDER_NUMBER.fullmatch(number) and ORDER_REFERENCE.findall(f"Order {number} is shipped.") == [number]
        typed = number.replace("-", "").lower()
        assert number in order_number_spellings(f"#{typed}")
        assert extract_entities(f"where is {typed}").order_numbers == [number]


def test_the_validator_checks_the_order_status_the_engine_writes(shop: DemoShop) -> None:
    for order in shop.orders:
        reply = f"Order {order['number']} is {order['status'].value.replace('_', ' ')}."
        assert problems(reply, [{"order_number": order["number"], "status": order["status"].value}]) == [], reply
        not_looked_up = problems(reply, [])
        assert not_looked_up and all(order["number"] in p for p in not_looked_up), reply


# --- dates --------------------------------------------------------------------------------------------


def test_every_demo_delivery_date_the_engine_writes_is_checked(shop: DemoShop) -> None:
    etas = sorted({o["eta"] for o in shop.orders if o["eta"] is not None})
    assert etas
    for eta in etas:
        written = format_date(eta)
        match = ISO_DATE.search(f"Estimated delivery: {written}.")
        assert match is not None and (int(match["year"]), int(match["mnum"]), int(match["day"])) == (
            eta.year,
            eta.month,
            eta.day,
        )
        reply = f"Estimated delivery: {written}."
        assert problems(reply, [{"eta": eta.isoformat()}]) == []
        assert problems(reply, [{"eta": "1999-01-01"}]) == [
            f"date {written} does not appear in this turn's tool outputs"
        ]


# --- contacts -----------------------------------------------------------------------------------------


def test_every_demo_phone_number_is_recognised_and_matched(shop: DemoShop) -> None:
    phones = [SUPPORT_PHONE, *(c["phone"] for c in shop.customers if c["phone"])]
    for phone in phones:
        found = [m.group(0) for m in PHONE.finditer(f"Call {phone} any time.")]
        assert found == [phone] and same_phone(found[0], phone)
        assert extract_entities(f"my number is {phone}").phones, phone
        reply = f"We will call you on {phone}."
        assert problems(reply, [], customer_phone=phone) == []
        assert problems(reply, []) == [
            f"phone number {phone} is neither the customer's own nor in this turn's tool outputs"
        ]


def test_every_demo_email_is_recognised(shop: DemoShop) -> None:
    for customer in shop.customers:
        assert EMAIL.findall(f"Write to {customer['email']}.") == [customer["email"]]
