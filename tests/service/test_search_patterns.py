"""A shopper's `%`, `_` and NUL are characters to find, never wildcards or a server error, on SQLite and Postgres."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from tests.conftest import Shop
from tests.service.test_engagement_tools import customer_ctx
from tools.engagement import SearchProductsInput, search_products


async def _titles(api: httpx.AsyncClient, shop: Shop, q: str) -> list[str]:
    r = await api.get("/v1/products", params={"q": q}, headers={"X-Hub-Key": shop.storefront_key})
    assert r.status_code == 200, r.text
    return sorted(item["title"] for item in r.json()["items"])


async def test_like_wildcards_in_a_query_match_only_themselves(
    api: httpx.AsyncClient, session: AsyncSession, shops: tuple[Shop, Shop]
) -> None:
    alpha = shops[0]
    session.add(
        m.Product(
            tenant_id=alpha.tenant_id, sku="SKU-2", title="100% linen shirt", category="Shirts", price=Decimal(30)
        )
    )
    await session.commit()

    assert await _titles(api, alpha, "%") == ["100% linen shirt"]
    assert await _titles(api, alpha, "alph_") == []
    assert await _titles(api, alpha, "a%a") == []
    assert await _titles(api, alpha, "alpha") == ["alpha tee"]


async def test_a_nul_in_a_query_is_dropped(api: httpx.AsyncClient, shops: tuple[Shop, Shop]) -> None:
    assert await _titles(api, shops[0], "alp\x00ha") == ["alpha tee"]
    assert await _titles(api, shops[0], "\x00") == ["alpha tee"]


async def test_a_size_with_wildcards_finds_no_product(session: AsyncSession, shops: tuple[Shop, Shop]) -> None:
    alpha = shops[0]
    product = m.Product(
        tenant_id=alpha.tenant_id,
        sku="SKU-3",
        title="alpha hoodie",
        category="Hoodies",
        price=Decimal(40),
        stock=5,
        attributes={"sizes": ["S", "M"]},
    )
    session.add(product)
    await session.commit()
    ctx = customer_ctx(session, alpha.tenant_id)
    for size, found in (("M", ["alpha hoodie"]), ("%", []), ("_", [])):
        result = await search_products(ctx, SearchProductsInput(query="hoodie", size=size))
        assert [p.title for p in result.products] == found, size
