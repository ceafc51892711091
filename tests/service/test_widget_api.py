"""The storefront widget's HTTP surface: the script, CORS per the key's shop, the per-key chat rate limit."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from chat_ui.api import ChatRateLimit
from hub.db import models as m
from hub.seed.demo import DemoCredentials
from hub.settings import Settings
from hub.tenancy import admin
from service.app import create_app

SHOP_SITE = "http://localhost:8000"
"""One of the demo shop's allowed origins."""
EVIL_SITE = "https://evil.example"
TEST_LIMIT = ChatRateLimit(per_session=10, per_client=10, per_key=3, window_s=8.0)
"""A window long enough that three turns fit in it on a busy CI machine (the first builds the conversation graph)."""


async def client_for(
    settings: Settings, *, rate_limit: ChatRateLimit | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The full app, with a tighter chat rate limit when a test asks for one."""
    app = create_app(settings)
    if rate_limit is not None:
        app.state.chat_rate_limit = rate_limit
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            yield client


@pytest.fixture
async def hub(app_settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(app_settings, rate_limit=TEST_LIMIT):
        yield client


def chat(client: httpx.AsyncClient, key: str, *, origin: str | None = None, session_id: str = "w-1", path="/v1/chat"):
    headers = {"X-Hub-Key": key, **({"Origin": origin} if origin else {})}
    return client.post(path, json={"session_id": session_id, "message": "hi"}, headers=headers)


def preflight(client: httpx.AsyncClient, origin: str, *, method: str = "POST", headers: str = "content-type,x-hub-key"):
    return client.options(
        "/v1/chat/stream",
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


async def allow_origins(session: AsyncSession, tenant_id: uuid.UUID | str, origins: list[str]) -> None:
    tenant = await session.get(m.Tenant, uuid.UUID(str(tenant_id)))
    assert tenant is not None
    tenant.settings = {**tenant.settings, "allowed_origins": origins}
    await session.commit()


async def test_the_widget_script_is_served_as_cacheable_javascript_without_html_sinks(hub: httpx.AsyncClient) -> None:
    r = await hub.get("/widget.js")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "max-age=300" in r.headers["cache-control"] and r.headers["x-content-type-options"] == "nosniff"
    script = r.text
    assert "document.currentScript" in script and "/v1/chat/stream" in script and "localStorage" in script
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in script, f"the widget must not parse text as HTML or code: found {sink}"
    assert set(re.findall(r"https?://[^\s\"']+", script)) <= {
        "https://hub.example/widget.js",
        "http://www.w3.org/2000/svg",
    }
    again = await hub.get("/widget.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and not again.content


async def test_an_allowed_origin_can_read_the_chat_reply(hub: httpx.AsyncClient, demo: DemoCredentials) -> None:
    r = await chat(hub, demo.storefront_key, origin=SHOP_SITE)
    assert r.status_code == 200 and r.json()["intent"] == "greeting"
    assert r.headers["access-control-allow-origin"] == SHOP_SITE
    assert "Origin" in r.headers["vary"] and "Retry-After" in r.headers["access-control-expose-headers"]
    config = await hub.get("/v1/chat/config", headers={"X-Hub-Key": demo.storefront_key, "Origin": SHOP_SITE})
    assert config.status_code == 200 and config.headers["access-control-allow-origin"] == SHOP_SITE
    assert config.json() == {"shop_name": demo.shop_name, "primary_colour": "#1F3B33", "accent_colour": "#D08A3C"}


async def test_the_widget_text_comes_in_the_shoppers_language_when_the_shop_speaks_it(
    hub: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession
) -> None:
    headers = {"X-Hub-Key": demo.storefront_key, "Origin": SHOP_SITE}
    german = await hub.get("/v1/chat/text", headers={**headers, "Accept-Language": "de-CH, de;q=0.9, en;q=0.5"})
    assert german.status_code == 200 and german.headers["access-control-allow-origin"] == SHOP_SITE
    assert german.json()["language"] == "de" and german.json()["text"]["talk_to_human"] == "Mit einem Menschen sprechen"
    asked = await hub.get("/v1/chat/text", params={"lang": "nl-NL,pt-BR,en"}, headers=headers)
    assert asked.json()["language"] == "pt" and asked.json()["text"]["send"] == "Enviar"
    bad = await hub.get("/v1/chat/text", params={"lang": "<script>"}, headers=headers)
    assert bad.status_code == 422
    tenant = await session.get(m.Tenant, uuid.UUID(demo.tenant_id))
    assert tenant is not None
    await admin.update_tenant_settings(session, tenant, {"languages": ["en", "es"], "default_language": "en"})
    await session.commit()
    english = await hub.get("/v1/chat/text", params={"lang": "de-DE"}, headers=headers)
    assert english.json()["language"] == "en", "the shop does not answer in German, so neither does its widget"
    assert english.json()["text"]["talk_to_human"] == "Talk to a human"


async def test_a_foreign_origin_is_refused_before_the_turn_even_when_another_shop_allows_it(
    hub: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession
) -> None:
    other = await admin.create_tenant(session, name="Bravo Shop")
    await session.commit()
    await allow_origins(session, other.id, ["https://bravo.example"])

    for origin in (EVIL_SITE, "https://bravo.example", "null"):
        r = await chat(hub, demo.storefront_key, origin=origin)
        assert r.status_code == 403, origin
        assert r.json()["error"]["code"] == "origin_not_allowed" and origin in r.json()["error"]["message"]
        assert "access-control-allow-origin" not in r.headers, origin
    streamed = await chat(hub, demo.storefront_key, origin=EVIL_SITE, path="/v1/chat/stream")
    assert streamed.status_code == 403 and "access-control-allow-origin" not in streamed.headers
    assert (await session.execute(select(m.Message))).first() is None, "a refused origin must not reach the shop"
    assert (await preflight(hub, "https://bravo.example")).status_code == 204  # the preflight cannot tell the shop


async def test_requests_without_an_origin_or_from_the_hub_itself_are_not_cors(
    hub: httpx.AsyncClient, demo: DemoCredentials
) -> None:
    plain = await chat(hub, demo.storefront_key)
    assert plain.status_code == 200 and "access-control-allow-origin" not in plain.headers
    own_page = await chat(hub, demo.storefront_key, origin="http://hub.test", session_id="w-2")
    assert own_page.status_code == 200


async def test_preflight_admits_the_widgets_post_from_a_shop_site_only(
    hub: httpx.AsyncClient, demo: DemoCredentials
) -> None:
    ok = await preflight(hub, SHOP_SITE)
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == SHOP_SITE
    assert "POST" in ok.headers["access-control-allow-methods"]
    assert {"content-type", "x-hub-key"} <= {
        h.strip().lower() for h in ok.headers["access-control-allow-headers"].split(",")
    }
    assert int(ok.headers["access-control-max-age"]) > 0 and "Origin" in ok.headers["vary"]

    for refused in (
        preflight(hub, EVIL_SITE),
        preflight(hub, SHOP_SITE, method="DELETE"),
        preflight(hub, SHOP_SITE, headers="content-type,x-hub-key,x-admin"),
    ):
        r = await refused
        assert r.status_code == 403 and r.json()["error"]["code"] == "cors_refused"
        assert "access-control-allow-origin" not in r.headers


async def test_a_site_a_shop_adds_passes_preflight_within_seconds(
    hub: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession
) -> None:
    new_site = "https://shop.northwind.example"
    assert (await preflight(hub, new_site)).status_code == 403
    await allow_origins(session, demo.tenant_id, [SHOP_SITE, new_site + "/"])
    deadline = time.monotonic() + 10
    while (r := await preflight(hub, new_site)).status_code != 204:
        assert time.monotonic() < deadline, r.text
        await asyncio.sleep(0.2)
    assert (await chat(hub, demo.storefront_key, origin=new_site)).status_code == 200


async def test_a_key_over_its_rate_limit_gets_429_with_retry_after_and_recovers(
    hub: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession
) -> None:
    for n in range(TEST_LIMIT.per_key):
        assert (await chat(hub, demo.storefront_key, origin=SHOP_SITE, session_id=f"w-{n}")).status_code == 200
    limited = await chat(hub, demo.storefront_key, origin=SHOP_SITE, path="/v1/chat/stream")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= TEST_LIMIT.window_s
    # The widget on the shop's site can read why, and how long to wait.
    assert limited.headers["access-control-allow-origin"] == SHOP_SITE
    assert "Retry-After" in limited.headers["access-control-expose-headers"]

    _, other_key = await admin.issue_key(session, tenant_id=uuid.UUID(demo.tenant_id), role=m.ApiKeyRole.STOREFRONT)
    await session.commit()
    assert (await chat(hub, other_key)).status_code == 200, "the limit is per key"

    deadline = time.monotonic() + retry_after + 2
    while (r := await chat(hub, demo.storefront_key)).status_code == 429:
        assert time.monotonic() < deadline, "still limited after Retry-After"
        await asyncio.sleep(0.1)
    assert r.status_code == 200


async def test_the_operator_sets_the_chat_rate_limit_in_settings(app_settings: Settings, demo: DemoCredentials) -> None:
    async for client in client_for(app_settings.model_copy(update={"chat_rate_limit_per_minute": 2})):
        assert [(await chat(client, demo.storefront_key, session_id=f"s-{n}")).status_code for n in range(3)] == [
            200,
            200,
            429,
        ]
        limited = await chat(client, demo.storefront_key)
        assert "more than 2 chat messages a minute with this shop's key" in limited.json()["error"]["message"]


async def test_card_photos_are_served_to_the_shops_widget_and_never_outside_its_media(
    hub: httpx.AsyncClient, demo: DemoCredentials, session: AsyncSession, app_settings: Settings
) -> None:
    headers = {"X-Hub-Key": demo.storefront_key, "Origin": SHOP_SITE}
    product = (await session.execute(select(m.Product).where(m.Product.sku == demo.sample_sku))).scalar_one()
    url = f"/v1/chat/products/{demo.sample_sku}/image"
    (app_settings.media_dir / product.image_path).unlink(missing_ok=True)  # the demo fixture draws this one
    missing = await hub.get(url, headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_product_image"

    photo = app_settings.media_dir / product.image_path
    photo.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), "navy").save(photo)
    r = await hub.get(url, headers=headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content == photo.read_bytes()
    assert r.headers["access-control-allow-origin"] == SHOP_SITE and "private" in r.headers["cache-control"]

    # Another shop's photo, reached by a path that leaves this shop's media folder.
    foreign = app_settings.media_dir / "other-shop" / "photo.png"
    foreign.parent.mkdir(parents=True)
    Image.new("RGB", (8, 8), "red").save(foreign)
    for n, path in enumerate(["other-shop/photo.png", f"{product.tenant_id}/../other-shop/photo.png"]):
        sku = f"SKU-999{n}"
        session.add(
            m.Product(
                tenant_id=product.tenant_id,
                sku=sku,
                title="Escape",
                category="T-shirts",
                price=Decimal("1.00"),
                stock=1,
                image_path=path,
            )
        )
        await session.commit()
        assert (await hub.get(f"/v1/chat/products/{sku}/image", headers=headers)).status_code == 404, path
