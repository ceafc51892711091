"""HUB's own pages in a real Chromium: a newcomer opens the landing page and chats on the demo storefront."""

from __future__ import annotations

import asyncio
import re
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.seed.demo import DemoCredentials, seed_demo
from hub.settings import Settings
from tests.browser.conftest import serving
from tests.processes import free_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@dataclass(frozen=True)
class Hub:
    port: int
    creds: DemoCredentials
    products: int
    """How many active products the demo shop has."""


async def seed(settings: Settings) -> tuple[DemoCredentials, int]:
    """The demo shop with its photos, allowing no other site: its own storefront page must not need one."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            creds = await seed_demo(session, settings)
            tenant = await session.get(m.Tenant, uuid.UUID(creds.tenant_id))
            assert tenant is not None
            tenant.settings = {**tenant.settings, "allowed_origins": []}
            await session.commit()
            active = select(func.count()).where(m.Product.tenant_id == tenant.id, m.Product.active.is_(True))
            return creds, (await session.execute(active)).scalar_one()
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def hub(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """The real app on a free port of 127.0.0.1, as `hub serve --port N` runs it."""
    data_dir = tmp_path_factory.mktemp("hub") / "data"
    port = free_port()
    settings = Settings(data_dir=data_dir)
    with ThreadPoolExecutor(1) as pool:  # sync Playwright may already run an event loop on this thread
        creds, products = pool.submit(asyncio.run, seed(settings)).result()
    with serving(settings, port):
        yield Hub(port=port, creds=creds, products=products)


@dataclass
class Visit:
    page: Page
    requests: list[str]
    """Every URL the page asked for, in order."""
    console_errors: list[str]
    """What the browser reported as errors, Content-Security-Policy violations included."""


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:
    """A fresh visitor (empty localStorage) whose requests and console errors are recorded."""
    context = browser.new_context(locale="en-US", viewport={"width": 1200, "height": 860})
    page = context.new_page()
    seen = Visit(page=page, requests=[], console_errors=[])
    script_errors: list[str] = []
    context.on("request", lambda request: seen.requests.append(request.url))
    page.on("console", lambda msg: seen.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: script_errors.append(str(exc)))
    yield seen
    context.close()
    assert script_errors == [], "the page raised script errors"


def assert_only_own_origin(visit: Visit, origin: str) -> None:
    foreign = [url for url in visit.requests if not url.startswith((f"{origin}/", f"blob:{origin}/"))]
    assert foreign == [], f"the page reached beyond {origin}"
    assert visit.console_errors == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_newcomer_chats_with_the_widget_on_the_demo_storefront(
    visit: Visit, hub: Hub, host: str, tmp_path: Path
) -> None:
    """Served on 127.0.0.1, the page works under either name a browser may use for it."""
    origin = f"http://{host}:{hub.port}"
    page = visit.page
    page.goto(f"{origin}/demo")
    expect(page.get_by_role("heading", level=1)).to_have_text(hub.creds.shop_name)
    products = page.locator(".product")
    expect(products).to_have_count(hub.products)
    first = products.first
    expect(first).to_be_visible()
    expect(first.locator(".price")).to_have_text(re.compile(r"^\$\d[\d,]*\.\d\d$"))
    assert first.locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)") > 0
    hoodies = page.get_by_role("region", name="Hoodies & Sweatshirts")
    expect(hoodies.locator(".product").first).to_be_visible()

    chat = page.locator("#hub-chat-widget")  # Playwright's CSS pierces the widget's open shadow root
    chat.get_by_role("button", name="Open chat").click()
    expect(chat.locator(".title")).to_have_text(hub.creds.shop_name)
    replies = chat.locator('.msg.assistant[data-state="done"]')
    before = replies.count()
    chat.get_by_label("Message").fill("do you have hoodies?")
    chat.get_by_label("Message").press("Enter")
    expect(replies).to_have_count(before + 1)
    reply = replies.nth(before)
    expect(reply).to_have_attribute("data-intent", "product_search")
    card = reply.locator(".card").first
    expect(card.locator(".card-title")).not_to_be_empty()
    photo = card.locator("img")
    expect(photo).to_have_attribute("src", re.compile(r"^blob:"))  # fetched from this origin with the key
    assert photo.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0

    page.screenshot(path=str(tmp_path / "demo.png"))
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(tmp_path / "demo.png", ARTIFACTS / f"demo-{host}.png")
    assert_only_own_origin(visit, origin)


def test_every_link_on_the_landing_page_opens(visit: Visit, hub: Hub) -> None:
    origin = f"http://127.0.0.1:{hub.port}"
    page = visit.page
    page.goto(f"{origin}/")
    expect(page.locator("#demo-status")).to_contain_text(hub.creds.shop_name)
    hrefs = page.locator("ul.surfaces a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert set(hrefs) >= {"/demo", "/console", "/docs", "/metrics", "/healthz"}
    # Chainlit's app is one per process: served here, no later test could mount it into another app. The README
    # test opens /console on a `hub serve` of its own.
    for href in set(hrefs) - {"/console"}:
        opened = httpx.get(f"{origin}{href}", follow_redirects=True, timeout=30)
        assert opened.status_code == 200, href
    page.get_by_role("link", name="Demo storefront").click()
    expect(page).to_have_url(f"{origin}/demo")
    expect(page.locator(".product").first).to_be_visible()
    assert_only_own_origin(visit, origin)
