"""Shoppers of an imported shop get each size's own price, stock and SKU, from the tools, the engine and the API."""

from __future__ import annotations

import uuid
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from agents.engine import DeterministicEngine, Pending, ShopVoice
from hub.db import models as m
from tests.conftest import Shop, make_shop
from tools.context import Audience, ToolContext, ToolError
from tools.engagement import (
    CheckStockInput,
    GetProductInput,
    SearchProductsInput,
    StockLevel,
    check_stock,
    get_product,
    search_products,
)
from tools.validators import validate_reply

TITLE = "Harbour Fleece"
SIZES = {
    "S": ("HF-2001-S", "40.00", None, 7),
    "M": ("HF-2001-M", "45.00", "55.00", 3),
    "L": ("HF-2001-L", "49.00", None, 0),
}
"""Size → (variant SKU, price, compare-at price, stock), as an importer stores a French shop's product."""


@pytest.fixture
async def shop(session: AsyncSession) -> Shop:
    shop = await make_shop(session, "harbour")
    product = m.Product(
        tenant_id=shop.tenant_id,
        sku="HF-2001-S",
        title=TITLE,
        category="Hoodies & Sweatshirts",
        price=Decimal("40.00"),
        stock=10,
        handle="harbour-fleece",
        attributes={"sizes": list(SIZES), "colours": ["Navy"], "options": {"Taille": list(SIZES), "Couleur": ["Navy"]}},
    )
    session.add(product)
    await session.flush()
    for position, (size, (sku, price, compare_at, stock)) in enumerate(SIZES.items(), start=1):
        session.add(
            m.ProductVariant(
                tenant_id=shop.tenant_id,
                product_id=product.id,
                sku=sku,
                options={"Taille": size, "Couleur": "Navy"},
                price=Decimal(price),
                compare_at_price=Decimal(compare_at) if compare_at else None,
                stock=stock,
                position=position,
            )
        )
    await session.commit()
    return shop


def shopper(session: AsyncSession, shop: Shop) -> ToolContext:
    return ToolContext(
        session=session, tenant_id=uuid.UUID(str(shop.tenant_id)), audience=Audience.CUSTOMER, channel=m.Channel.WEB
    )


async def test_product_lists_each_size_with_its_own_price_and_stock(session: AsyncSession, shop: Shop) -> None:
    detail = await get_product(shopper(session, shop), GetProductInput(sku="HF-2001-S"))
    assert [(v.sku, v.options["Taille"], v.price, v.stock) for v in detail.variants] == [
        (sku, size, Decimal(price), stock) for size, (sku, price, _, stock) in SIZES.items()
    ]
    assert detail.variants[1].compare_at_price == Decimal("55.00")
    assert detail.variants[2].stock_level is StockLevel.OUT and not detail.variants[2].in_stock
    assert (detail.price, detail.price_to) == (Decimal("40.00"), Decimal("49.00"))
    card = (await search_products(shopper(session, shop), SearchProductsInput(query="fleece"))).products[0]
    assert (card.sku, card.price, card.price_to) == ("HF-2001-S", Decimal("40.00"), Decimal("49.00"))


async def test_sold_out_size_is_out_with_its_own_sku_while_others_ship(session: AsyncSession, shop: Shop) -> None:
    ctx = shopper(session, shop)
    large = await check_stock(ctx, CheckStockInput(sku="HF-2001-S", size="l"))
    assert (large.variant_offered, large.level, large.quantity, large.can_order) == (True, StockLevel.OUT, 0, False)
    assert large.variant_sku == "HF-2001-L"
    medium = await check_stock(ctx, CheckStockInput(sku="HF-2001-S", size="M", colour="navy"))
    assert (medium.variant_sku, medium.level, medium.quantity) == ("HF-2001-M", StockLevel.LOW, 3)
    missing = await check_stock(ctx, CheckStockInput(sku="HF-2001-S", size="XL"))
    assert not missing.variant_offered and missing.note is not None
    assert "XL" in missing.note and "S, M, L" in missing.note


async def test_a_variant_sku_finds_its_product(session: AsyncSession, shop: Shop, api: httpx.AsyncClient) -> None:
    detail = await get_product(shopper(session, shop), GetProductInput(sku="hf-2001-m"))
    assert (detail.sku, detail.title) == ("HF-2001-S", TITLE)
    stock = await check_stock(shopper(session, shop), CheckStockInput(sku="HF-2001-L"))
    assert (stock.variant_sku, stock.level) == ("HF-2001-L", StockLevel.OUT)
    found = await api.get("/v1/products/HF-2001-M", headers={"X-Hub-Key": shop.storefront_key})
    assert found.status_code == 200 and found.json()["title"] == TITLE
    other = await make_shop(session, "other")
    hidden = await api.get("/v1/products/HF-2001-M", headers={"X-Hub-Key": other.storefront_key})
    assert hidden.status_code == 404


async def test_engine_prices_the_size_asked_for_and_the_validator_holds_it(session: AsyncSession, shop: Shop) -> None:
    bot = DeterministicEngine()
    voice = ShopVoice(name="Harbour")
    turn = await bot.answer(shopper(session, shop), f"how much is the {TITLE} in M?", pending=Pending(), voice=voice)
    assert turn.tools == ["get_product"]
    assert "$45.00" in turn.reply and "HF-2001-M" in turn.reply, turn.reply
    assert "$40.00" not in turn.reply and "$49.00" not in turn.reply, turn.reply
    assert validate_reply(turn.reply, tool_outputs=turn.outputs, channel=m.Channel.WEB) == []
    invented = f"The {TITLE} in M (HF-2001-M) costs $42.00, and size XL (HF-2001-XL) has only 4 left."
    problems = validate_reply(invented, tool_outputs=turn.outputs, channel=m.Channel.WEB)
    assert any("$42.00" in p for p in problems) and any("HF-2001-XL" in p for p in problems)
    assert any("only 4 left" in p for p in problems), problems

    stock = await bot.answer(shopper(session, shop), f"do you have the {TITLE} in L?", pending=Pending(), voice=voice)
    assert stock.tools == ["check_stock"]
    assert "HF-2001-L" in stock.reply and "out of stock" in stock.reply, stock.reply
    assert validate_reply(stock.reply, tool_outputs=stock.outputs, channel=m.Channel.WEB) == []


async def test_a_sku_is_found_exactly_then_by_case_unless_that_is_ambiguous(session: AsyncSession) -> None:
    shop = await make_shop(session, "cases")
    for sku in ("ring-7", "RING-7", "CAFÉ-1", "Solo-9"):
        session.add(
            m.Product(
                tenant_id=shop.tenant_id, sku=sku, title=f"Item {sku}", category="Rings", price=Decimal(10), stock=1
            )
        )
    await session.commit()
    ctx = shopper(session, shop)
    assert (await get_product(ctx, GetProductInput(sku="RING-7"))).title == "Item RING-7"
    assert (await get_product(ctx, GetProductInput(sku="ring-7"))).title == "Item ring-7"
    assert (await get_product(ctx, GetProductInput(sku="solo-9"))).title == "Item Solo-9"
    assert (await get_product(ctx, GetProductInput(sku=" CAFÉ-1 "))).title == "Item CAFÉ-1"
    with pytest.raises(ToolError, match="Unknown SKU"):  # two SKUs differ from it only in case: neither is guessed
        await get_product(ctx, GetProductInput(sku="Ring-7"))


async def test_stock_asked_in_a_size_is_that_sizes_stock_not_the_products(session: AsyncSession) -> None:
    """The question "Is the Merino Crew Jumper in stock in size L?" names the product (its own word "Jumper"
    counts, not only the synonym "sweatshirt"), so the answer is the L variant's 2 left, not the 17 of every size."""
    shop = await make_shop(session, "merino")
    product = m.Product(
        tenant_id=shop.tenant_id,
        sku="MCJ-300",
        title="Merino Crew Jumper",
        category="Knitwear",
        price=Decimal("89.00"),
        stock=17,
        attributes={"sizes": ["S", "M", "L"], "options": {"Size": ["S", "M", "L"]}},
    )
    session.add(product)
    await session.flush()
    for position, (size, stock) in enumerate((("S", 9), ("M", 6), ("L", 2)), start=1):
        session.add(
            m.ProductVariant(
                tenant_id=shop.tenant_id,
                product_id=product.id,
                sku=f"MCJ-300-{size}",
                options={"Size": size},
                price=Decimal("89.00"),
                stock=stock,
                position=position,
            )
        )
    await session.commit()

    turn = await DeterministicEngine().answer(
        shopper(session, shop),
        "Is the Merino Crew Jumper in stock in size L?",
        pending=Pending(),
        voice=ShopVoice(name="Merino"),
    )
    assert turn.tools == ["check_stock"] and turn.args == [{"sku": "MCJ-300", "size": "L"}]
    assert "MCJ-300-L" in turn.reply and "2 left" in turn.reply, turn.reply
    assert "17" not in turn.reply, turn.reply
    assert validate_reply(turn.reply, tool_outputs=turn.outputs, channel=m.Channel.WEB) == []
