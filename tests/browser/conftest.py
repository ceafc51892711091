"""What every browser test needs: Debian's chromium, required in CI and skipped without it elsewhere, and the
real app served on a port of 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, sync_playwright

from hub.redis_conn import EmbeddedRedis
from hub.settings import Settings
from service.app import create_app
from tests.conftest import services_required

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing; install Debian's chromium (apt-get install -y chromium) to run browser tests"
        if services_required():
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium))
        yield browser
        browser.close()


@contextmanager
def serving(settings: Settings, port: int) -> Iterator[None]:
    """Serve the full app with its embedded Redis on 127.0.0.1:`port` in a thread until the block ends."""
    with EmbeddedRedis(settings.data_dir) as redis_server:
        app = create_app(settings.model_copy(update={"redis_url": redis_server.url}))
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, ws="none")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 60
            while not server.started:
                assert thread.is_alive() and time.monotonic() < deadline, "the app did not start"
                time.sleep(0.05)
            yield
        finally:
            server.should_exit = True
            thread.join(timeout=30)
