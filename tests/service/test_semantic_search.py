"""Product search by meaning, on SQLite and Postgres: when the shopper's words are not the shop's, the product
closest in meaning is offered as a close match, in any language; an unrelated query finds nothing; a shop sees only
its own products; vectors follow a product's text and go with the product."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from agents.engine import DeterministicEngine, Pending
from hub.catalog.vectors import EMBED_TASK, embed_products
from hub.db import models as m
from hub.db.engine import session_factory
from hub.jobs import GENERAL
from hub.redis_conn import create_redis
from hub.settings import Settings
from tests.conftest import Shop
from tests.service.test_catalog_sync import LANTERN, admin
from tests.service.test_engagement_tools import customer_ctx
from tests.service.test_engine import VOICE
from tools.engagement import SearchProductsInput, search_products
from tools.validators import validate_reply

ALPHA_PRODUCTS = [
    ("SKU-10", "Wool Blend Overcoat", "Jackets & Coats", "Camel", "A long double-breasted coat in heavy wool.", 180),
    ("SKU-11", "Sterling Silver Pendant Necklace", "Jewellery", "Silver", "A fine chain with a small pendant.", 60),
    ("SKU-12", "Recycled Nylon Daypack", "Bags", "Black", "A light backpack with a padded laptop sleeve.", 70),
    ("SKU-13", "Stoneware Mug", "Home & Living", "Sage", "A glazed mug that holds 350 ml.", 18),
]
BRAVO_PRODUCTS = [
    ("SKU-20", "Silver Chain Necklace", "Jewellery", "Silver", "A thin sterling silver chain.", 45),
    ("SKU-21", "Leather Hiking Boot", "Footwear", "Brown", "A waterproof boot for mountain trails.", 150),
]


@pytest.fixture
async def catalog(session: AsyncSession, engine: AsyncEngine, shops: tuple[Shop, Shop]) -> tuple[Shop, Shop]:
    """Both shops' products, encoded."""
    for shop, products in zip(shops, (ALPHA_PRODUCTS, BRAVO_PRODUCTS), strict=True):
        for sku, title, category, colour, description, price in products:
            session.add(
                m.Product(
                    tenant_id=shop.tenant_id,
                    sku=sku,
                    title=title,
                    category=category,
                    description=description,
                    attributes={"colours": [colour]},
                    price=Decimal(price),
                    stock=4,
                )
            )
    await session.commit()
    for shop in shops:
        await embed_products(session_factory(engine), shop.tenant_id)
    return shops


async def _search(session: AsyncSession, shop: Shop, query: str, **filters: object) -> list[tuple[str, str | None]]:
    found = await search_products(customer_ctx(session, shop.tenant_id), SearchProductsInput(query=query, **filters))
    return [(p.title, p.match) for p in found.products]


async def test_a_paraphrase_with_no_shared_word_finds_the_product_as_a_close_match(
    session: AsyncSession, catalog: tuple[Shop, Shop]
) -> None:
    assert await _search(session, catalog[0], "rucksack for school") == [("Recycled Nylon Daypack", "similar")]


async def test_a_spanish_query_finds_the_english_titled_product_of_this_shop_only(
    session: AsyncSession, catalog: tuple[Shop, Shop]
) -> None:
    alpha, bravo = catalog
    assert await _search(session, alpha, "un collar de plata") == [("Sterling Silver Pendant Necklace", "similar")]
    assert await _search(session, bravo, "un collar de plata") == [("Silver Chain Necklace", "similar")]
    bravo_titles = {title for _, title, *_ in BRAVO_PRODUCTS}
    for query in ("botas de montaña", "hiking boots", "silver chain"):
        assert not {title for title, _ in await _search(session, alpha, query)} & bravo_titles, query


async def test_an_unrelated_query_finds_nothing(session: AsyncSession, catalog: tuple[Shop, Shop]) -> None:
    for query in ("car insurance", "seguro de coche", "mortgage rates"):
        assert await _search(session, catalog[0], query) == [], query


async def test_a_close_match_passes_the_same_filters(session: AsyncSession, catalog: tuple[Shop, Shop]) -> None:
    alpha = catalog[0]
    assert await _search(session, alpha, "un collar de plata", max_price=Decimal(50)) == []
    assert await _search(session, alpha, "un collar de plata", colour="gold") == []
    assert await _search(session, alpha, "un collar de plata", category="Jewellery") == [
        ("Sterling Silver Pendant Necklace", "similar")
    ]


async def test_a_changed_product_is_encoded_again_and_a_deleted_one_disappears(
    session: AsyncSession, engine: AsyncEngine, catalog: tuple[Shop, Shop]
) -> None:
    alpha, sessions = catalog[0], session_factory(engine)
    again = await embed_products(sessions, alpha.tenant_id)
    assert (again.encoded, again.unchanged) == (0, len(ALPHA_PRODUCTS) + 1)
    assert await _search(session, alpha, "taza") == [("Stoneware Mug", "similar")]

    await session.execute(update(m.Product).where(m.Product.sku == "SKU-13").values(stock=0))
    await session.commit()
    assert (await embed_products(sessions, alpha.tenant_id)).encoded == 0  # stock is not what a vector reads

    changed = {"title": "Linen Napkin Set", "category": "Home & Living", "description": "Four napkins in washed linen."}
    await session.execute(
        update(m.Product).where(m.Product.tenant_id == alpha.tenant_id, m.Product.sku == "SKU-13").values(**changed)
    )
    await session.commit()
    assert (await embed_products(sessions, alpha.tenant_id)).encoded == 1
    assert await _search(session, alpha, "taza") == []

    await session.execute(delete(m.Product).where(m.Product.tenant_id == alpha.tenant_id, m.Product.sku == "SKU-12"))
    await session.commit()
    assert await _search(session, alpha, "rucksack for school") == []
    left = select(func.count()).select_from(m.ProductVector).where(m.ProductVector.tenant_id == alpha.tenant_id)
    assert (await session.execute(left)).scalar_one() == len(ALPHA_PRODUCTS)  # four products (and the tee) less one


async def test_a_product_put_over_the_api_queues_its_encoding_and_is_then_found_by_meaning(
    api: httpx.AsyncClient, app_settings: Settings, engine: AsyncEngine, session: AsyncSession, shops: tuple[Shop, Shop]
) -> None:
    alpha = shops[0]
    redis = create_redis(app_settings.redis_url or "")
    try:
        await redis.delete(GENERAL.stream("low"))
        response = await api.put("/v1/products/LAN-S", json=LANTERN, headers=admin(alpha))
        assert response.status_code == 201
        queued = [json.loads(fields["job"]) for _, fields in await redis.xrange(GENERAL.stream("low"))]
    finally:
        await redis.aclose()
    assert [(j["task"], j["args"]) for j in queued] == [(EMBED_TASK, [str(alpha.tenant_id)])]
    assert await _search(session, alpha, "a light for my patio") == []  # not encoded yet: nothing is invented
    await session.rollback()
    await embed_products(session_factory(engine), alpha.tenant_id)
    assert await _search(session, alpha, "a light for my patio") == [("Brass Lantern", "similar")]


async def test_the_engine_offers_a_close_match_as_close_and_the_reply_is_grounded(
    session: AsyncSession, catalog: tuple[Shop, Shop]
) -> None:
    ctx = customer_ctx(session, catalog[0].tenant_id)
    turn = await DeterministicEngine().answer(ctx, "do you have a rucksack for school?", pending=Pending(), voice=VOICE)
    assert turn.tools == ["search_products"]
    assert turn.reply.startswith("These are close to what you asked for:") and "Recycled Nylon Daypack" in turn.reply
    assert validate_reply(turn.reply, tool_outputs=turn.outputs, channel=m.Channel.WEB) == []
