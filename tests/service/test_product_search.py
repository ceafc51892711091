"""Product search on the database's own full-text index, on SQLite and Postgres: a shopper's text is words to find,
never query syntax; a shop sees only its own products; the index follows every write without the writer knowing."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from tests.conftest import Shop
from tests.service.test_engagement_tools import customer_ctx
from tools.engagement import SearchProductsInput, search_products

QUERY_SYNTAX = st.sampled_from(
    ['"', "'", "*", "-", "+", "^", ":", "(", ")", "{", "}", "[", "]", "\\", "&", "|", "!", "<->", ":*", "NEAR",
     "NEAR(", "AND", "OR", "NOT", "title:", "kind :", "tee", "hoodie", "bravo", "alpha", "t-shirt", "ção", "\x00"]
)  # fmt: skip
"""Pieces of FTS5 and tsquery syntax, words both shops' products hold, and characters a driver may refuse."""

SHOPPER_TEXT = st.lists(st.one_of(QUERY_SYNTAX, st.text(max_size=12)), max_size=8).map(" ".join)


async def _add(
    session: AsyncSession, shop: Shop, sku: str, title: str, category: str = "Hoodies", **values: object
) -> None:
    session.add(
        m.Product(tenant_id=shop.tenant_id, sku=sku, title=title, category=category, price=Decimal(20), **values)
    )
    await session.commit()


async def test_any_text_a_shopper_types_finds_only_their_shops_products(
    session: AsyncSession, shops: tuple[Shop, Shop]
) -> None:
    """Hypothesis runs in a thread of its own; each example's search runs on the test's event loop."""
    alpha, bravo = shops
    await _add(session, bravo, "SKU-2", 'bravo "NEAR" (hoodie) AND tee -alpha*', description="alpha tee OR NOT")
    ctx, loop = customer_ctx(session, alpha.tenant_id), asyncio.get_running_loop()

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(query=SHOPPER_TEXT, category=st.none() | SHOPPER_TEXT, colour=st.none() | SHOPPER_TEXT)
    def search(query: str, category: str | None, colour: str | None) -> None:
        args = SearchProductsInput(
            query=query[:200], category=category and category[:100], colour=colour and colour[:40]
        )
        found = asyncio.run_coroutine_threadsafe(search_products(ctx, args), loop).result(timeout=30)
        assert {(p.sku, p.title) for p in found.products} <= {("SKU-1", "alpha tee")}, args

    await asyncio.to_thread(search)
    nasty = await search_products(ctx, SearchProductsInput(query='"alpha" NEAR(tee*) AND -(t-shirt)'))
    assert [p.title for p in nasty.products] == ["alpha tee"]


async def test_a_partial_word_or_a_synonym_finds_the_product(session: AsyncSession, shops: tuple[Shop, Shop]) -> None:
    alpha = shops[0]
    await _add(session, alpha, "SKU-2", "Trail Sneaker", category="Footwear")
    ctx = customer_ctx(session, alpha.tenant_id)
    for query, title in (("sneak", "Trail Sneaker"), ("trainers", "Trail Sneaker"), ("t-shirts", "alpha tee")):
        found = await search_products(ctx, SearchProductsInput(query=query))
        assert [p.title for p in found.products] == [title], query


async def test_the_index_follows_every_write_to_a_product(session: AsyncSession, shops: tuple[Shop, Shop]) -> None:
    alpha = shops[0]
    await _add(session, alpha, "SKU-2", "Fleece Hoodie", "Tops", attributes={"colours": ["Navy"], "material": "Merino"})
    ctx = customer_ctx(session, alpha.tenant_id)

    async def titles(query: str) -> list[str]:
        return [p.title for p in (await search_products(ctx, SearchProductsInput(query=query))).products]

    assert await titles("merino") == ["Fleece Hoodie"]
    assert await titles("navy hoodie") == ["Fleece Hoodie"]
    await session.execute(update(m.Product).where(m.Product.sku == "SKU-2").values(title="Cashmere Cardigan"))
    await session.commit()
    assert await titles("hoodie") == []
    assert await titles("cardigan") == ["Cashmere Cardigan"]
    await session.execute(update(m.Product).where(m.Product.sku == "SKU-2").values(stock=7))
    await session.commit()
    assert await titles("cardigan") == ["Cashmere Cardigan"]
    await session.execute(delete(m.Product).where(m.Product.sku == "SKU-2"))
    await session.commit()
    assert await titles("cardigan") == []
