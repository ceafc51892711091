"""Browsers are guarded on every route: security headers set once for the whole app, CORS for HUB's own origins
only (the console no longer answers any site with credentials), and in production HSTS and Secure cookies.

Real HTTP on the full app (the console mounted); on SQLite only: nothing here depends on the database.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.settings import Environment, Settings
from hub.tenancy import admin
from tests.conftest import Shop, make_shop
from tests.service.test_chat_api import client_for

EVIL_SITE = "https://evil.example"
PUBLIC_ORIGIN = "https://hub.example.com"
EMAIL = "ops@alpha.example.com"
PASSWORD = "right-password-123"


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
async def hub(app_settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(app_settings.model_copy(update={"public_origins": (PUBLIC_ORIGIN,)})):
        yield client


@pytest.fixture
async def shop(session: AsyncSession) -> Shop:
    shop = await make_shop(session, "alpha")
    await admin.create_operator(session, tenant_id=shop.tenant_id, email=EMAIL, password=PASSWORD)
    await session.commit()
    return shop


def policy(response: httpx.Response) -> dict[str, str]:
    directives = (part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    return {d[0]: d[1] if len(d) > 1 else "" for d in directives}


async def test_every_kind_of_response_carries_the_security_headers(hub: httpx.AsyncClient, shop: Shop) -> None:
    key = {"X-Hub-Key": shop.storefront_key}
    responses = {
        "api": await hub.get("/v1/products", headers=key),
        "api error": await hub.get("/v1/products"),
        "not found": await hub.get("/no-such-page"),
        "health": await hub.get("/healthz"),
        "landing page": await hub.get("/"),
        "console page": await hub.get("/console/"),
        "console api": await hub.get("/console/user"),
        "api docs": await hub.get("/docs"),
        "widget script": await hub.get("/widget.js"),
    }
    for name, r in responses.items():
        assert r.headers.get("x-content-type-options") == "nosniff", name
        assert r.headers.get("x-frame-options") == "DENY", name
        assert r.headers.get("referrer-policy") == "same-origin", name
        assert "strict-transport-security" not in r.headers, f"{name}: HSTS only where HUB is served over HTTPS"
    for name in ("api", "api error", "not found", "health", "console api"):
        assert policy(responses[name]) == {"default-src": "'none'", "frame-ancestors": "'none'"}, name

    console = policy(responses["console page"])
    assert console["script-src"] == "'self'" and console["connect-src"] == "'self'"
    assert console["frame-ancestors"] == "'none'" and console["object-src"] == "'none'"
    assert policy(responses["landing page"])["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" in policy(responses["api docs"])["script-src"], "Swagger UI starts from an inline script"
    # The widget is a script every shop's page loads: no frame rules, no policy of its own, still cross-origin.
    widget = responses["widget script"]
    assert "content-security-policy" not in widget.headers
    assert widget.headers["cross-origin-resource-policy"] == "cross-origin"


async def test_the_console_page_runs_no_inline_script_so_its_policy_can_forbid_them(hub: httpx.AsyncClient) -> None:
    page = (await hub.get("/console/")).text
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.DOTALL)
    assert scripts, "the console page loads its scripts"
    for attributes, body in scripts:
        assert 'src="/console/' in attributes and not body.strip(), attributes
    moved = next(re.search(r'src="([^"]+/public/page-[^"]+)"', a).group(1) for a, _ in scripts if "/public/page-" in a)
    served = await hub.get(moved)
    assert served.status_code == 200 and "globalThis" in served.text


async def test_the_console_does_not_answer_another_site_with_credentials(hub: httpx.AsyncClient) -> None:
    for path in ("/console/user", "/console/project/settings?language=en", "/v1/products"):
        r = await hub.get(path, headers={"Origin": EVIL_SITE})
        assert "access-control-allow-origin" not in r.headers, path
        assert "access-control-allow-credentials" not in r.headers, path

    preflight = await hub.options(
        "/console/user", headers={"Origin": EVIL_SITE, "Access-Control-Request-Method": "GET"}
    )
    assert preflight.status_code == 403 and "access-control-allow-origin" not in preflight.headers
    assert preflight.json()["error"]["code"] == "cors_refused" and EVIL_SITE in preflight.json()["error"]["message"]

    # The console's socket opens from a page on HUB itself only.
    socket = "/console/ws/socket.io/?EIO=4&transport=polling"
    assert (await hub.get(socket, headers={"Origin": EVIL_SITE})).status_code == 400
    assert (await hub.get(socket, headers={"Origin": "http://hub.test"})).status_code == 200


async def test_hubs_own_public_origin_is_answered_with_credentials(hub: httpx.AsyncClient) -> None:
    r = await hub.get("/console/user", headers={"Origin": PUBLIC_ORIGIN})
    assert r.headers["access-control-allow-origin"] == PUBLIC_ORIGIN
    assert r.headers["access-control-allow-credentials"] == "true" and "Origin" in r.headers["vary"]
    preflight = await hub.options(
        "/console/project/thread",
        headers={
            "Origin": PUBLIC_ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == PUBLIC_ORIGIN
    assert "PUT" in preflight.headers["access-control-allow-methods"]


async def test_in_production_the_session_cookie_is_secure_and_hsts_is_sent(
    app_settings: Settings, engine: AsyncEngine, shop: Shop
) -> None:
    production = app_settings.model_copy(update={"env": Environment.PRODUCTION, "secret_key": SecretStr("s" * 40)})
    async for hub in client_for(production):
        signed_in = await hub.post("/console/login", data={"username": EMAIL, "password": PASSWORD})
        assert signed_in.status_code == 200
        cookies = signed_in.headers.get_list("set-cookie")
        assert cookies and all("; Secure" in c for c in cookies), cookies
        for path in ("/healthz", "/console/", "/"):
            hsts = (await hub.get(path)).headers["strict-transport-security"]
            assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 15_552_000, path  # six months or more
