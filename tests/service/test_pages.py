"""HUB's own pages: the landing page links every surface, and /demo is the demo shop's storefront with the widget."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.db import models as m
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from hub.tenancy import admin
from service.app import create_app


@pytest.fixture
async def api(app_settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The full app `hub serve` runs (the pages, the chat API, the console), lifespan included."""
    app = create_app(app_settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            yield client


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes: what a browser would load and follow."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def assert_self_contained(page: httpx.Response) -> None:
    """Nothing on the page loads from another origin, and the browser is told to refuse anything that would."""
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    tags = Tags(page.text)
    loaded = [a.get("src") for a in tags.all("script") + tags.all("img")] + [a.get("href") for a in tags.all("link")]
    assert all(url and url.startswith("/") and not url.startswith("//") for url in loaded if url is not None), loaded
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", page.text), "no stylesheet may pull from another origin"


async def test_the_landing_page_says_what_hub_is_and_links_every_surface(
    api: httpx.AsyncClient, demo: DemoCredentials
) -> None:
    page = await api.get("/")
    assert page.status_code == 200
    assert_self_contained(page)
    links = {a["href"] for a in Tags(page.text).all("a")}
    assert {"/docs", "/console", "/demo", "/metrics", "/healthz"} <= links
    assert "HUB" in page.text and demo.shop_name in page.text
    for path in ("/docs", "/metrics", "/healthz"):  # /console is opened by the browser test: Chainlit mounts once
        assert (await api.get(path)).status_code == 200, path
    assert (await api.get("/demo")).status_code == 200
    schema = (await api.get("/openapi.json")).json()
    assert "/" not in schema["paths"] and "/demo" not in schema["paths"], "HTML pages are not part of the API"


async def test_the_landing_page_tells_how_to_get_the_demo_shop_before_it_is_seeded(api: httpx.AsyncClient) -> None:
    page = await api.get("/")
    assert page.status_code == 200
    assert "hub seed demo" in page.text and "hub serve --demo" in page.text


async def test_the_demo_storefront_shows_the_catalog_and_a_widget_that_can_chat(
    api: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession
) -> None:
    page = await api.get("/demo")
    assert page.status_code == 200
    assert_self_contained(page)
    assert demo.shop_name in page.text
    products = (
        (await session.execute(select(m.Product).where(m.Product.tenant_id == uuid.UUID(demo.tenant_id))))
        .scalars()
        .all()
    )
    sample = next(p for p in products if p.sku == demo.sample_sku)
    for product in products:
        assert product.sku in page.text
    assert sample.category in page.text and f"${sample.price:,.2f}" in page.text
    photo = next(img for img in Tags(page.text).all("img") if img.get("alt") == sample.title)
    image = await api.get(photo["src"] or "")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"

    (widget,) = [s for s in Tags(page.text).all("script") if (s.get("src") or "").endswith("/widget.js")]
    assert widget["data-key"] == demo.storefront_key
    assert (await api.get(widget["src"] or "")).status_code == 200
    reply = await api.post(
        "/v1/chat",
        json={"session_id": "w-demo-page", "message": "do you have hoodies?"},
        headers={"X-Hub-Key": widget["data-key"], "Origin": str(api.base_url).rstrip("/")},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["intent"] == "product_search" and reply.json()["reply"]


async def test_the_demo_storefront_leaves_out_products_the_shop_archived(
    api: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession
) -> None:
    product = (await session.execute(select(m.Product).where(m.Product.sku == demo.sample_sku))).scalar_one()
    product.active = False
    await session.commit()
    page = await api.get("/demo")
    assert page.status_code == 200 and demo.sample_sku not in page.text
    assert (await api.get(f"/demo/products/{demo.sample_sku}/image")).status_code == 404


async def test_the_demo_storefront_without_a_working_key_shows_the_catalog_without_the_widget(
    api: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession
) -> None:
    await admin.revoke_key(session, demo.storefront_key)
    await session.commit()
    page = await api.get("/demo")
    assert page.status_code == 200 and demo.sample_sku in page.text
    assert "revoked" in page.text and demo.storefront_key not in page.text
    assert not [s for s in Tags(page.text).all("script") if (s.get("src") or "").endswith("/widget.js")]


async def test_the_demo_storefront_is_missing_until_the_demo_shop_is_seeded(api: httpx.AsyncClient) -> None:
    page = await api.get("/demo")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "hub seed demo" in page.text and "hub serve --demo" in page.text
    assert (await api.get("/demo/products/SKU-1001/image")).status_code == 404


async def test_markup_in_a_product_title_is_shown_as_text_on_the_demo_storefront(
    api: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession
) -> None:
    title = 'Tee <script>alert("xss")</script><img src=x onerror=alert(1)>'
    sample = (await session.execute(select(m.Product).where(m.Product.sku == demo.sample_sku))).scalar_one()
    sample.title = title
    await session.commit()
    page = await api.get("/demo")
    assert page.status_code == 200
    assert "Tee &lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page.text
    tags = Tags(page.text)
    assert [s.get("src") for s in tags.all("script")] == ["/widget.js"]
    assert not [img for img in tags.all("img") if "onerror" in img or img.get("src") == "x"]


async def test_the_api_docs_and_the_tab_icon_come_from_hub_itself(api: httpx.AsyncClient) -> None:
    docs = await api.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", docs.text)
    assert assets and all(url.startswith("/") and not url.startswith("//") for url in assets), assets
    for url in assets:
        assert (await api.get(url)).status_code == 200, url
    icon = await api.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
