"""The operator console in a real browser: HUB's own page that loads nothing from elsewhere; sign in, ask without a
model, confirm an action, see costs, get a background job's result pushed, and find the thread again after the
server restarts; and a first start that sets the console up without a word.

Runs `hub serve --demo` as a process and drives /console with Debian's Chromium through Playwright.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from hub.seed.catalog import SHOP_NAME
from tests.browser.conftest import CHROMIUM
from tests.processes import free_port, hub, wait_until_up

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.browser


class Server:
    """`hub serve --demo` on one data dir and port; `restart` stops it and starts it again on the same data."""

    def __init__(self, tmp_path: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        self.env |= {"HUB_DATA_DIR": str(tmp_path / "data"), "HUB_LOG_FORMAT": "json"}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # A file, not a pipe nobody reads while the server runs: a full pipe would stall the server's logging.
        self.log = tmp_path / "serve.log"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hub", "serve", "--demo", "--port", str(self.port)],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                text=True,
            )
        try:
            wait_until_up(f"{self.base}/healthz", self.proc, deadline_s=120)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; its log:\n{self.log.read_text()[-6000:]}") from None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.communicate(timeout=30)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def server(chromium: Path, tmp_path: Path) -> Iterator[tuple[Server, dict]]:
    running = Server(tmp_path)
    try:
        running.start()
        creds = json.loads(hub("seed", "demo", "--json", env=running.env).stdout.strip().splitlines()[-1])
        yield running, creds
    finally:
        running.stop()


def say(page: Any, text: str, *, expecting: str) -> None:
    """Send a console message and wait for a reply containing `expecting`."""
    from playwright.sync_api import expect

    # Chainlit ignores a message sent while the previous answer is still running (its stop button shows then).
    expect(page.locator("#stop-button")).to_have_count(0, timeout=20_000)
    page.locator("#chat-input").fill(text)
    submit = page.locator("#chat-submit")
    expect(submit).to_be_enabled()
    submit.click()
    expect(page.get_by_text(expecting).first).to_be_visible(timeout=20_000)


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/console")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page.get_by_text("Hello! Ask in plain words").first).to_be_visible(timeout=20_000)


def test_a_fresh_data_dir_starts_the_console_without_chainlit_setup_lines(tmp_path: Path) -> None:
    running = Server(tmp_path)
    try:
        running.start()
        assert "<title>HUB console</title>" in httpx.get(f"{running.base}/console/").text
    finally:
        running.stop()
    log = running.log.read_text()
    assert "Created default" not in log
    assert '"logger": "chainlit"' not in log, "Chainlit has nothing to say on a first start"


def test_the_console_is_hubs_and_loads_nothing_from_elsewhere(server: tuple[Server, dict]) -> None:
    from playwright.sync_api import expect, sync_playwright

    running, creds = server
    own = urlsplit(running.base).netloc
    visited: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        context = browser.new_context()
        # Every request of every page and worker, and the socket the chat runs on.
        context.on("request", lambda request: visited.append(request.url))
        page = context.new_page()
        page.on("websocket", lambda socket: visited.append(socket.url))

        page.goto(f"{running.base}/console")
        expect(page).to_have_title("HUB console")
        expect(page.get_by_text("Sign in to the HUB console")).to_be_visible(timeout=20_000)
        expect(page.locator("img[alt=logo]").first).to_be_visible()
        logo = page.request.get(page.locator("img[alt=logo]").first.get_attribute("src") or "")
        assert 'aria-label="HUB"' in logo.text(), "the logo is HUB's"
        assert "chainlit" not in page.inner_text("body").lower()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-login.png"))

        page.fill("#email", creds["operator_email"])
        page.fill("#password", creds["operator_password"])
        page.click("button[type=submit]")
        expect(page.get_by_text(f"{SHOP_NAME} · HUB console").first).to_be_visible(timeout=20_000)
        say(page, "/status", expecting="Status at")
        expect(page).to_have_title("HUB console")
        assert "chainlit" not in page.inner_text("body").lower()
        page.screenshot(path=str(ARTIFACTS / "console-branded.png"))
        browser.close()

    assert any("/console/ws/socket.io" in url for url in visited), "the chat's socket was recorded too"
    # data: and blob: URLs are made inside the page and never touch the network.
    elsewhere = [u for u in visited if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != own]
    assert elsewhere == [], "the console reaches only HUB's own origin"
    chainlit_lines = [line for line in running.log.read_text().splitlines() if '"logger": "chainlit"' in line]
    assert chainlit_lines == [], "signing in and working leaves no noise from Chainlit in the server's log"


def test_an_operator_signs_in_asks_confirms_and_checks_costs(server: tuple[Server, dict], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    running, creds = server
    base, env = running.base, running.env
    other = hub("tenants", "create", "--name", "Other Shop", env=env)
    assert other.returncode == 0, other.stderr
    made = hub(
        "operators",
        "create",
        "--tenant",
        "other-shop",
        "--email",
        "o@other.example",
        "--password",
        "other-pass-123",
        env=env,
    )
    assert made.returncode == 0, made.stderr

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        page.goto(f"{base}/console")
        page.fill("#email", creds["operator_email"])
        page.fill("#password", "wrong password")
        page.click("button[type=submit]")
        expect(page.locator("#chat-input")).to_have_count(0)

        page.fill("#password", creds["operator_password"])
        page.click("button[type=submit]")
        expect(page.get_by_text("Hello! Ask in plain words").first).to_be_visible(timeout=20_000)

        say(page, f"/summary {creds['sample_order_email']}", expecting="summarize_customer")
        expect(page.get_by_text("Segment:").first).to_be_visible()
        expect(page.get_by_text("deterministic · no model").first).to_be_visible()

        say(page, f"/photos {creds['sample_sku']} white background, 2 photos", expecting="Please confirm")
        page.get_by_role("button", name="Confirm request_photos").click()
        expect(page.get_by_text("queued").first).to_be_visible(timeout=20_000)
        # The imaging worker (the studio compositor here: no GPU model) pushes the result in when it is ready.
        expect(page.get_by_text("is ready").first).to_be_visible(timeout=90_000)
        expect(page.locator("img[alt^='image']").first).to_be_visible(timeout=20_000)
        page.get_by_text("is ready").first.scroll_into_view_if_needed()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-photos.png"))

        say(page, "/seo-bulk Bags", expecting="queued")
        expect(page.get_by_text("Bulk SEO for Bags finished").first).to_be_visible(timeout=60_000)

        say(page, "/cost week", expecting="AI cost")
        shot = tmp_path / "console.png"
        page.screenshot(path=str(shot), full_page=True)
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copyfile(shot, ARTIFACTS / "console.png")

        stranger = browser.new_page()
        sign_in(stranger, base, "o@other.example", "other-pass-123")
        expect(stranger.get_by_text("Other Shop · HUB console").first).to_be_visible()
        assert creds["sample_order_email"] not in stranger.inner_text("body"), "threads are per operator"
        say(stranger, f"/profile {creds['sample_order_email']}", expecting="did not run")
        assert "lifetime value" not in stranger.inner_text("body"), "another shop's customer stays invisible"
        browser.close()

        running.restart()
        browser = p.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        sign_in(page, base, creds["operator_email"], creds["operator_password"])
        page.get_by_text(f"/summary {creds['sample_order_email']}").first.click()
        expect(page.get_by_text("Segment:").first).to_be_visible(timeout=20_000)
        page.screenshot(path=str(ARTIFACTS / "console-reopened.png"), full_page=True)
        say(page, "/prompts", expecting="customer_reply")
        expect(page.get_by_text("Segment:").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "console-resumed.png"), full_page=True)
        browser.close()
