"""The storefront widget in a real Chromium: one script tag on a shop's page, chatting with the real app."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from chat_ui import handoff
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
XSS_SKU = "SKU-9990"
XSS_TITLE = (
    'Tee <img src=x onerror="window.__xss=(window.__xss||0)+1">'
    "<script>window.__xss=(window.__xss||0)+1;alert('xss')</script>"
)
"""A product title a compromised catalog feed could carry; it runs if anything parses it as HTML."""


@dataclass(frozen=True)
class Storefront:
    hub_url: str
    shop_url: str
    """The shop's page, on an origin the demo shop allows, with the widget's script tag."""
    foreign_url: str
    """The same page on an origin no shop allows."""
    creds: DemoCredentials
    settings: Settings


async def seed(settings: Settings, shop_origin: str) -> DemoCredentials:
    """The demo shop with its photos, the test page's origin allowed, and a product whose title is markup."""
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            creds = await seed_demo(session, settings)
            tenant = await session.get(m.Tenant, uuid.UUID(creds.tenant_id))
            assert tenant is not None
            tenant.settings = {**tenant.settings, "allowed_origins": [*tenant.settings["allowed_origins"], shop_origin]}
            sample = (await session.execute(select(m.Product).where(m.Product.sku == creds.sample_sku))).scalar_one()
            session.add(
                m.Product(
                    tenant_id=tenant.id,
                    sku=XSS_SKU,
                    title=XSS_TITLE,
                    category=sample.category,
                    price=Decimal("19.00"),
                    stock=7,
                    image_path=sample.image_path,
                )
            )
            await session.commit()
            return creds
    finally:
        await engine.dispose()


async def _answer_as_person(settings: Settings, tenant_id: str, session_id: str, text: str) -> None:
    engine = create_engine(settings.resolved_database_url)
    try:
        async with session_factory(engine)() as session:
            conversation = (
                await session.execute(
                    select(m.Conversation).where(
                        m.Conversation.channel == m.Channel.WEB, m.Conversation.external_ref == session_id
                    )
                )
            ).scalar_one()
            await handoff.set_handler(session, uuid.UUID(tenant_id), conversation.id, human=True, operator="o")
            await handoff.reply_as_human(session, None, uuid.UUID(tenant_id), conversation.id, text, operator="o")
    finally:
        await engine.dispose()


def answer_as_person(storefront: Storefront, session_id: str, text: str) -> None:
    """What an operator does from the console: take the widget's conversation over and reply as a person."""
    with ThreadPoolExecutor(1) as pool:
        args = (storefront.settings, storefront.creds.tenant_id, session_id, text)
        pool.submit(asyncio.run, _answer_as_person(*args)).result()


def serve_page(port: int, html: str) -> ThreadingHTTPServer:
    body = html.encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body if found else b"not found")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def storefront(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Storefront]:
    """The real app on one port, a shop's page on another."""
    data_dir = tmp_path_factory.mktemp("hub") / "data"
    hub_port, shop_port = free_port(), free_port()
    hub_url, shop_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{shop_port}"
    settings = Settings(data_dir=data_dir)
    with ThreadPoolExecutor(1) as pool:  # sync Playwright may already run an event loop on this thread
        creds = pool.submit(asyncio.run, seed(settings, shop_url)).result()
    with serving(settings, hub_port):
        page = serve_page(
            shop_port,
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Northwind Threads</title></head>"
            "<body style='font-family: sans-serif; margin: 40px'><h1>Northwind Threads</h1>"
            "<p>Everyday clothing, made to last.</p>"
            f'<script src="{hub_url}/widget.js" data-key="{creds.storefront_key}"></script></body></html>',
        )
        try:
            yield Storefront(
                hub_url=hub_url,
                shop_url=shop_url,
                foreign_url=f"http://localhost:{shop_port}/",
                creds=creds,
                settings=settings,
            )
        finally:
            page.shutdown()
            page.server_close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh shopper: new profile (empty localStorage), US English, and no script errors allowed."""
    context = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 820})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == [], "the page raised script errors"


def open_widget(page: Page, url: str) -> Locator:
    page.goto(url)
    chat = page.locator("#hub-chat-widget")  # Playwright's CSS pierces the widget's open shadow root
    chat.get_by_role("button", name="Open chat").click()
    expect(chat.get_by_label("Message")).to_be_focused()
    return chat


def ask(page: Page, chat: Locator, text: str) -> tuple[Locator, list[tuple[str, dict]]]:
    """Send one message through the widget; return the finished reply and the SSE events it was streamed from."""
    replies = chat.locator('.msg.assistant[data-state="done"]')
    before = replies.count()
    with page.expect_response(lambda r: r.url.endswith("/v1/chat/stream") and r.request.method == "POST") as info:
        chat.get_by_label("Message").fill(text)
        chat.get_by_label("Message").press("Enter")
    expect(replies).to_have_count(before + 1)
    response = info.value
    assert response.status == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1].removeprefix("data: ")))
        for block in response.text().strip().split("\n\n")
    ]
    reply = replies.nth(before)
    streamed = "".join(data["text"] for name, data in events if name == "delta")
    assert [name for name, _ in events].count("delta") > 1, "the reply should arrive in pieces"
    expect(reply.locator(".text")).to_have_text(streamed)
    return reply, events


def wait_for_photo(card: Locator) -> None:
    photo = card.locator("img")
    expect(photo).to_have_attribute("src", re.compile(r"^blob:"))
    assert photo.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0


def stored_session(page: Page) -> str:
    states = page.evaluate(
        "() => Object.keys(localStorage).filter(k => k.startsWith('hub-chat:')).map(k => localStorage.getItem(k))"
    )
    assert len(states) == 1
    return json.loads(states[0])["session"]


def save_screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    page.screenshot(path=str(shot))
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / name)
    return shot


def test_a_shopper_asks_about_a_product_then_an_order_and_the_session_survives_a_reload(
    page: Page, storefront: Storefront, tmp_path: Path
) -> None:
    creds = storefront.creds
    chat = open_widget(page, storefront.shop_url)
    expect(chat.locator(".title")).to_have_text(creds.shop_name)

    reply, events = ask(page, chat, f"Tell me more about {creds.sample_sku}")
    product = httpx.get(
        f"{storefront.hub_url}/v1/products/{creds.sample_sku}", headers={"X-Hub-Key": creds.storefront_key}
    ).json()
    assert events[0][0] == "meta" and events[0][1]["products"][0]["sku"] == creds.sample_sku
    expect(reply.locator(".text")).to_contain_text(f"{product['title']} ({creds.sample_sku}) costs ${product['price']}")
    card = reply.locator(f'.card[data-sku="{creds.sample_sku}"]')
    expect(card.locator(".card-title")).to_have_text(product["title"])
    expect(card.locator(".card-price")).to_have_text(f"${Decimal(product['price']):,.2f}")
    expect(card.locator(".card-stock")).to_contain_text(str(product["stock"]))
    wait_for_photo(card)
    save_screenshot(page, tmp_path, "widget.png")

    reply, _ = ask(page, chat, "Where is my order?")
    expect(reply).to_have_attribute("data-intent", "order_status")
    expect(reply.locator(".text")).to_contain_text("order number")
    expect(reply.locator(".text")).to_contain_text("email")
    reply, _ = ask(page, chat, f"It's {creds.sample_order_id}")
    expect(reply.locator(".text")).to_contain_text("email or phone")

    session_id = stored_session(page)
    transcript = chat.locator(".msg").all_inner_texts()
    page.reload()
    chat = page.locator("#hub-chat-widget")
    expect(chat.get_by_role("dialog")).to_be_visible()  # it stays open across pages
    expect(chat.locator(".msg")).to_have_count(len(transcript))
    assert chat.locator(".msg").all_inner_texts() == transcript
    assert stored_session(page) == session_id
    wait_for_photo(chat.locator(f'.card[data-sku="{creds.sample_sku}"]'))

    reply, _ = ask(page, chat, creds.sample_order_email)  # the server still holds the order number
    expect(reply.locator(".text")).to_contain_text(f"Order {creds.sample_order_id} is")

    with page.expect_response(lambda r: r.url.endswith("/v1/chat/stream")):
        chat.get_by_role("button", name="Talk to a human").click()
    expect(chat.locator(".msg.shopper").last).to_have_text("I'd like to talk to a human, please.")
    handoff = chat.locator('.msg.assistant[data-state="done"]').last
    expect(handoff).to_have_attribute("data-intent", "human_handoff")
    expect(handoff.locator(".text")).to_contain_text("colleague")

    answer_as_person(storefront, session_id, "Hi, Sam from the shop here <b>now</b>. How can I help?")
    person = chat.locator(".msg.human")
    expect(person).to_have_count(1, timeout=15_000)  # the widget polls while a person handles the conversation
    expect(person.locator(".text")).to_have_text("Hi, Sam from the shop here <b>now</b>. How can I help?")
    save_screenshot(page, tmp_path, "widget-session.png")
    page.reload()
    chat = page.locator("#hub-chat-widget")
    expect(chat.locator(".msg.human")).to_have_count(1)
    page.wait_for_timeout(5000)  # a poll after the reload must not show the reply twice
    expect(chat.locator(".msg.human")).to_have_count(1)


def test_a_shopper_rates_a_reply_once_with_the_thumbs_and_the_rating_survives_a_reload(
    page: Page, storefront: Storefront
) -> None:
    chat = open_widget(page, storefront.shop_url)
    expect(chat.get_by_role("button", name="Not helpful")).to_have_count(0)  # the widget's own greeting: not rated
    reply, events = ask(page, chat, f"Tell me more about {storefront.creds.sample_sku}")
    down = reply.get_by_role("button", name="Not helpful")
    up = reply.get_by_role("button", name="Helpful", exact=True)
    with page.expect_response(lambda r: r.url.endswith("/v1/chat/feedback") and r.request.method == "POST") as info:
        down.click()
    assert info.value.status == 200 and info.value.json()["rating"] == "down"
    assert info.value.json()["message_id"] == events[0][1]["message_id"]
    expect(reply.get_by_role("status")).to_have_text("Thanks for your feedback!")
    expect(down).to_have_attribute("aria-pressed", "true")
    expect(up).to_be_disabled()

    page.reload()
    chat = page.locator("#hub-chat-widget")
    rated = chat.locator('.msg.assistant[data-state="done"]').last
    expect(rated.get_by_role("button", name="Not helpful")).to_have_attribute("aria-pressed", "true")
    expect(rated.get_by_role("button", name="Helpful", exact=True)).to_be_disabled()


def test_markup_in_a_product_title_is_shown_as_text_and_never_runs(page: Page, storefront: Storefront) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.set_content(f"<p>{XSS_TITLE}</p>")
    page.wait_for_function("window.__xss >= 2")  # the payload is live: parsed as HTML, both parts run
    dialogs.clear()

    chat = open_widget(page, storefront.shop_url)
    reply, events = ask(page, chat, f"Tell me more about {XSS_SKU}")
    assert XSS_TITLE in "".join(data["text"] for name, data in events if name == "delta")

    def assert_shown_as_text(reply: Locator) -> None:
        card = reply.locator(f'.card[data-sku="{XSS_SKU}"]')
        wait_for_photo(card)  # by now an injected <img src=x> would have failed to load and fired onerror
        expect(reply.locator(".text")).to_contain_text(XSS_TITLE)
        expect(card.locator(".card-title")).to_have_text(XSS_TITLE)
        expect(card.locator("img")).to_have_attribute("alt", XSS_TITLE)
        injected = page.evaluate(
            "() => document.getElementById('hub-chat-widget').shadowRoot"
            ".querySelectorAll('script, img:not([src^=\"blob:\"]), [onerror]').length"
        )
        assert injected == 0
        assert page.evaluate("window.__xss") is None and dialogs == []

    assert_shown_as_text(reply)
    page.reload()  # the transcript restored from localStorage goes through the same text-only rendering
    assert_shown_as_text(page.locator("#hub-chat-widget").locator('.msg.assistant[data-state="done"]').last)


def test_the_widget_on_a_site_the_shop_does_not_allow_cannot_chat(page: Page, storefront: Storefront) -> None:
    chat = open_widget(page, storefront.foreign_url)
    chat.get_by_label("Message").fill("hello")
    chat.get_by_label("Message").press("Enter")
    expect(chat.locator(".msg.notice")).to_contain_text("couldn't reach")
    expect(chat.locator(".msg.assistant")).to_have_count(1)  # only the widget's own greeting
    expect(chat.locator(".title")).to_have_text("Chat with us")  # the shop's name was not readable either


def test_a_return_offers_its_choices_as_buttons_that_send_their_title_on_a_phone(
    page: Page, storefront: Storefront, tmp_path: Path
) -> None:
    creds = storefront.creds
    page.set_viewport_size({"width": 360, "height": 740})
    chat = open_widget(page, storefront.shop_url)
    _, events = ask(page, chat, f"I want to return my order {creds.delivered_order_id}, {creds.delivered_order_email}")
    reasons = ["Doesn't fit", "Not as described", "Damaged or faulty", "Wrong item sent", "Changed my mind"]
    assert events[-1][0] == "done" and [c["title"] for c in events[-1][1]["quick_replies"]][:5] == reasons
    offered = chat.get_by_role("group", name="Suggested replies")
    buttons = offered.get_by_role("button")
    expect(buttons).to_have_count(6)
    expect(buttons.nth(0)).to_have_accessible_name("Reply: Doesn't fit")
    for n in range(6):
        box = buttons.nth(n).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 360, "the choices fit a phone"
    assert offered.evaluate("group => group.previousElementSibling.dataset.from") == "assistant", "under the reply"
    save_screenshot(page, tmp_path, "widget-choices.png")

    page.reload()  # the latest reply's choices are offered again
    chat = page.locator("#hub-chat-widget")
    buttons = chat.get_by_role("group", name="Suggested replies").get_by_role("button")
    expect(buttons).to_have_count(6)
    replies = chat.locator('.msg.assistant[data-state="done"]')
    before = replies.count()
    buttons.nth(2).focus()
    with page.expect_response(lambda r: r.url.endswith("/v1/chat/stream")) as sent:
        page.keyboard.press("Enter")  # a choice is a button: the keyboard takes it as well as a tap
    assert json.loads(sent.value.request.post_data or "{}")["message"] == "Damaged or faulty"
    expect(replies).to_have_count(before + 1)
    expect(chat.locator(".msg.shopper").last).to_have_text("Damaged or faulty")
    # the turn read the title as if typed: a damaged item skips the condition question, straight to confirming
    expect(replies.last).to_contain_text("Shall I go ahead?")
    confirm = chat.get_by_role("group", name="Suggested replies").get_by_role("button")
    expect(confirm).to_have_count(2)
    confirm.nth(0).click()
    expect(replies).to_have_count(before + 2)
    expect(replies.last).to_contain_text("RMA-")
    expect(chat.locator(".choices")).to_have_count(0)


def test_a_spanish_browser_gets_the_widget_in_spanish_and_asking_for_a_person_stays_in_spanish(
    browser: Browser, storefront: Storefront
) -> None:
    """The widget's own words follow the browser's language where the shop speaks it, and its "talk to a person"
    button sends a message in that language, so the conversation does not switch to English."""
    context = browser.new_context(locale="es-ES", viewport={"width": 1100, "height": 820})
    try:
        page = context.new_page()
        page.goto(storefront.shop_url)
        chat = page.locator("#hub-chat-widget")
        chat.get_by_role("button", name="Abrir chat").click()
        expect(chat.get_by_label("Mensaje")).to_be_focused()
        expect(chat.locator(".msg.assistant .text").first).to_contain_text("Pregúntame")
        expect(chat.get_by_label("Mensaje")).to_have_attribute("placeholder", "Pregunta por un producto o tu pedido")
        replies = chat.locator('.msg.assistant[data-state="done"]')
        with page.expect_response(lambda r: r.url.endswith("/v1/chat/stream")) as info:
            chat.get_by_role("button", name="Hablar con una persona").click()
        assert info.value.request.post_data_json["message"] == "Quiero hablar con una persona, por favor."
        expect(replies).to_have_count(2)
        meta = json.loads(info.value.text().split("\n\n")[0].split("\n")[1].removeprefix("data: "))
        assert meta["language"] == "es" and meta["intent"] == "human_handoff", meta
    finally:
        context.close()
