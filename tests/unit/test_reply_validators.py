"""A reply may only state the prices, SKUs, stock, statuses, dates and contacts this turn's tools returned."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import BaseModel

from hub.db.models import Channel, OrderStatus
from tools.engagement import (
    CheckStockResult,
    OrderDetails,
    OrderItem,
    OrderStatusResult,
    PolicyAnswerResult,
    PolicyPassage,
    ProductCard,
    SearchProductsInput,
    SearchProductsResult,
    StockLevel,
)
from tools.validators import CHANNEL_LIMITS, validate_reply

SANDAL = ProductCard(
    sku="SKU-1170",
    title="Suede Slide Sandal — Navy",
    category="Footwear",
    price=Decimal("90.00"),
    currency="USD",
    stock=3,
    in_stock=True,
    stock_level=StockLevel.LOW,
    sizes=["38", "39", "40"],
    colours=["Navy"],
    image_path="t/products/SKU-1170.png",
)
JEAN = SANDAL.model_copy(
    update={"sku": "SKU-1088", "title": "Stretch Slim Jean", "price": Decimal("1049.95"), "stock": 42}
)
SEARCH = SearchProductsResult(
    searched=SearchProductsInput(query="sandal", max_price=Decimal("1100")), products=[SANDAL, JEAN], total=2
)
STOCK = CheckStockResult(
    sku="SKU-1088",
    title="Stretch Slim Jean",
    size="32",
    colour=None,
    variant_offered=True,
    level=StockLevel.IN_STOCK,
    quantity=42,
    can_order=True,
    note=None,
)
ORDER = OrderStatusResult(
    found=True,
    order_number="A-12030",
    order=OrderDetails(
        order_number="A-12030",
        status=OrderStatus.SHIPPED,
        items=[OrderItem(sku="SKU-1170", title="Suede Slide Sandal — Navy", quantity=1, unit_price=Decimal("90.00"))],
        total=Decimal("95.95"),
        currency="USD",
        carrier="FedEx",
        tracking_number="936773461912",
        eta=date(2026, 12, 1),
        placed_on=date(2026, 11, 16),
    ),
)
POLICY = PolicyAnswerResult(
    found=True,
    passages=[
        PolicyPassage(
            passage_id="5f0c3a52-7a0e-4a39-9d1c-0b0f5a0c1e01",
            slug="returns-refunds",
            title="Returns and refunds",
            heading="Returns and refunds",
            topic="returns_refunds",
            kind="policy",
            text=(
                "You can return unworn items within 30 days of delivery. $4.95 is deducted from your refund. "
                "We issue the refund within 5 business days. Cancelled orders are refunded in full. "
                "Standard shipping is free on orders of $75.00 or more."
            ),
            score=4.2,
        ),
        PolicyPassage(
            passage_id="5f0c3a52-7a0e-4a39-9d1c-0b0f5a0c1e02",
            slug="contact-a-person",
            title="Talking to a person",
            heading="Talking to a person",
            topic="contact_human",
            kind="policy",
            text=(
                "The team works Monday to Friday 9 am–6 pm. Email help@northwindthreads.example.com or call "
                "+1 (555) 010-0199 during opening hours."
            ),
            score=3.1,
        ),
    ],
)
ALL = [SEARCH, STOCK, ORDER, POLICY]


def problems(reply: str, outputs: list[BaseModel | dict] | None = None, **kwargs) -> list[str]:
    return validate_reply(
        reply, tool_outputs=ALL if outputs is None else outputs, channel=kwargs.pop("channel", Channel.WEB), **kwargs
    )


def test_a_fully_grounded_reply_passes() -> None:
    reply = (
        "Good news: order A-12030 has shipped with FedEx (tracking 936773461912) and should arrive by Dec 1. "
        "It was placed on November 16, 2026 and came to $95.95. The Suede Slide Sandal (SKU-1170) is $90 and "
        "there are only 3 left; the Stretch Slim Jean (SKU 1088) costs 1,049.95 USD with 42 in stock. Returns "
        "are free within 30 days, refunds take 5 business days, $4.95 comes off for the label, and orders over "
        "$75 ship free. Questions? Email help@northwindthreads.example.com or call 555-010-0199, and we will "
        "reply to jane@example.com."
    )
    assert problems(reply, customer_email="Jane@Example.com") == []


def test_plain_dict_outputs_ground_a_reply_too() -> None:
    output = {"sku": "NW-77", "price": 12.5, "stock": 4, "currency": "EUR", "eta": "2026-03-02"}
    assert problems("NW-77 is €12.50, only 4 left, arriving March 2.", [output]) == []
    assert problems("NW-78 is €12.50.", [output]) == ["SKU NW-78 does not appear in this turn's tool outputs"]


# --- prices -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("price", ["$90", "$90.00", "90.00 USD", "USD 90", "US$90", "90 dollars", "$1,049.95"])
def test_prices_from_the_tools_pass_in_any_format(price: str) -> None:
    assert problems(f"That one is {price}.") == []


@pytest.mark.parametrize("price", ["$49.95", "49.95 USD", "USD 49.95", "$89.99", "$1,000"])
def test_invented_prices_are_flagged(price: str) -> None:
    assert problems(f"That one is {price} today.") == [f"price {price} does not appear in this turn's tool outputs"]


def test_a_grounded_amount_in_another_currency_is_flagged() -> None:
    assert problems("The sandal is €90.") == ["price €90 is in a currency the tool outputs do not use (USD)"]


def test_the_shoppers_own_budget_from_the_search_passes() -> None:
    assert problems("Here is what we have under $1,100.") == []


def test_numbers_that_are_not_prices_are_ignored() -> None:
    reply = (
        "Returns within 30 days, refunds in 5 business days, 10% off your first order, EU size 42, a 32-inch "
        "inseam, and 2 pairs per order."
    )
    assert problems(reply) == []


# --- SKUs ---------------------------------------------------------------------------------------------


def test_invented_skus_are_flagged_once_each() -> None:
    found = problems("Try SKU-9999 or sku-9999, or SKU-1170.")
    assert found == ["SKU SKU-9999 does not appear in this turn's tool outputs"]


def test_skus_in_the_tenants_own_format_are_checked() -> None:
    outputs = [{"products": [{"sku": "NW-1001", "price": "10.00"}]}]
    assert problems("NW-1001 is great; NW-1002 too.", outputs) == [
        "SKU NW-1002 does not appear in this turn's tool outputs"
    ]


def test_skus_made_of_words_are_checked_too() -> None:
    """An imported catalog's SKUs are often its handles and option values, with no digit at all."""
    outputs = [{"products": [{"sku": "MOON-STUDS", "price": "49.00"}, {"sku": "LS-M-NAVY", "price": "49.00"}]}]
    reply = "The MOON-STUDS and LS-M-NAVY are in; MOON-RINGS too. A moon-shaped charm, LS-style."
    assert problems(reply, outputs) == ["SKU MOON-RINGS does not appear in this turn's tool outputs"]


def test_order_numbers_references_and_the_word_skus_are_not_skus() -> None:
    outputs = [*ALL, {"reference": "HO-1A2B3C4D", "reason": "complaint"}]
    assert problems("Order A-12030 is with FedEx; your reference is HO-1A2B3C4D. We have many SKUs.", outputs) == []


# --- stock --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claim", ["only 3 left", "just 3 pairs left", "42 in stock", "42 units available", "stock: 42", "In stock (3)"]
)
def test_stock_figures_from_the_tools_pass(claim: str) -> None:
    assert problems(f"Good news, {claim}.") == []


@pytest.mark.parametrize("claim", ["only 2 left", "just 7 remaining", "5 in stock", "12 units available", "stock is 9"])
def test_invented_stock_figures_are_flagged(claim: str) -> None:
    found = problems(f"Hurry, {claim}.")
    assert len(found) == 1 and found[0].startswith("stock figure") and claim.split()[-2] in found[0]


def test_counts_that_are_not_stock_are_ignored() -> None:
    reply = "You have only 30 days left to return it, it comes in 4 colours, and it is available in 6 sizes."
    assert problems(reply) == []


# --- order status -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        "Order A-12030 has shipped.",
        "Your order is on its way with FedEx.",
        "It was dispatched from our warehouse and is in transit.",
        "The status of A-12030 is: Shipped.",
        "Your order has been paid and shipped.",
    ],
)
def test_statuses_matching_the_order_pass(reply: str) -> None:
    assert problems(reply) == []


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ("Order A-12030 was delivered yesterday.", "delivered"),
        ("Your order is out for delivery today.", "out for delivery"),
        ("Your order is still being processed.", "being processed"),
        ("Order A-12030 has been cancelled.", "cancelled"),
        ("Order A-12030 has been refunded.", "refunded"),
        ("Your order is awaiting payment.", "awaiting payment"),
    ],
)
def test_statuses_contradicting_the_order_are_flagged(reply: str, label: str) -> None:
    found = problems(reply)
    assert len(found) == 1 and f"is {label}, but" in found[0] and "shipped" in found[0]


def test_a_status_for_an_order_nobody_looked_up_is_flagged() -> None:
    assert problems("Order A-55555 has shipped.") == [
        "the reply says order A-55555 is shipped, but no tool output this turn covers it"
    ]
    assert problems("Your order has been delivered.", [POLICY]) == [
        "the reply says the order is delivered, but no order was looked up this turn"
    ]


def test_conditional_hedged_negated_and_general_statements_are_not_status_claims() -> None:
    reply = (
        "Once your order has shipped you get an email. If it is delivered but missing, tell us. "
        "It should be delivered on Dec 1. It hasn't been delivered yet. "
        "Cancelled orders are refunded in full. An order is cancelled automatically after 48 hours."
    )
    assert problems(reply) == []


# --- dates --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when", ["Dec 1", "December 1st", "1 December 2026", "2026-12-01", "12/01/2026", "Nov 16", "16th of November"]
)
def test_dates_from_the_tools_pass(when: str) -> None:
    assert problems(f"Expect it {when}.") == []


@pytest.mark.parametrize("when", ["Dec 3", "December 2nd", "2026-12-03", "1 December 2025", "12/03/2026"])
def test_invented_dates_are_flagged(when: str) -> None:
    assert problems(f"Expect it {when}.") == [f"date {when} does not appear in this turn's tool outputs"]


def test_relative_days_weekdays_and_hours_are_not_checked() -> None:
    assert problems("It should arrive tomorrow or by Thursday; we answer Monday to Friday 9 am–6 pm.") == []


# --- contacts -----------------------------------------------------------------------------------------


def test_foreign_email_addresses_are_flagged() -> None:
    found = problems("Write to refunds@fake-shop.com or jane@example.com.", customer_email="jane@example.com")
    assert found == [
        "email address refunds@fake-shop.com is neither the customer's own nor in this turn's tool outputs"
    ]


@pytest.mark.parametrize("phone", ["+1 (555) 010-0199", "555-010-0199", "(555) 010 0199", "+15550100199"])
def test_the_shops_phone_in_any_format_passes(phone: str) -> None:
    assert problems(f"Call {phone}.") == []


@pytest.mark.parametrize("phone", ["+1 (415) 555-0123", "415-555-0123", "+44 7700 900123", "07700 900123"])
def test_foreign_phone_numbers_are_flagged(phone: str) -> None:
    assert problems(f"Call {phone}.") == [
        f"phone number {phone} is neither the customer's own nor in this turn's tool outputs"
    ]


def test_the_customers_own_phone_passes() -> None:
    assert problems("We will text +44 7700 900123.", customer_phone="+447700900123") == []


def test_tracking_numbers_dates_and_size_lists_are_not_phone_numbers() -> None:
    assert problems("Tracking 936773461912, placed 2026-11-16, sizes 38, 39 and 40.") == []


# --- length -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "limit"), [(Channel.WHATSAPP, 4096), (Channel.WEB, 4000)])
def test_replies_must_fit_the_channel(channel: Channel, limit: int) -> None:
    assert CHANNEL_LIMITS[channel] == limit
    assert problems("a" * limit, channel=channel) == []
    assert problems("a" * (limit + 1), channel=channel) == [
        f"the reply is {limit + 1} characters long; {channel} allows at most {limit}"
    ]


def test_an_empty_reply_is_flagged() -> None:
    assert problems("  \n ") == ["the reply is empty"]
