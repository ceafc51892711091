"""A shop connects its own channels from the CLI: WhatsApp (secrets encrypted at rest), its sites, the widget tag."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from chat_ui.whatsapp.accounts import open_accounts
from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.encryption import SecretBox
from hub.settings import Settings, get_settings
from service.app import create_app
from service.cli.main import app

TOKEN = "EAAG-access-token-0123456789-wxyz"
APP_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
NUMBER = "106540352242922"


def run_hub(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


async def hub(*args: str) -> tuple[int, str, str]:
    """Run a `hub` command as a shell would: on its own thread (it runs its own event loop)."""
    return await asyncio.to_thread(run_hub, *args)


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
async def shop_engine(cli_settings: Settings) -> AsyncIterator[AsyncEngine]:
    assert (await hub("tenants", "create", "--name", "Alpha Shop", "--slug", "alpha"))[0] == 0
    engine = create_engine(cli_settings.resolved_database_url)
    yield engine
    await engine.dispose()


async def stored_config(engine: AsyncEngine) -> dict[str, str] | None:
    async with session_factory(engine)() as session:
        row = (
            await session.execute(select(m.ChannelAccount).where(m.ChannelAccount.external_id == NUMBER))
        ).scalar_one_or_none()
        return dict(row.config) if row is not None else None


async def test_a_connected_number_takes_webhooks_signed_with_its_secret_which_is_never_stored_or_shown_in_plain(
    cli_settings: Settings, shop_engine: AsyncEngine, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_REDIS_URL", redis_url)  # the CLI announces its changes where the running service listens
    get_settings.cache_clear()
    code, out, err = await hub(
        "whatsapp", "connect", "--tenant", "alpha", "--phone-number-id", NUMBER, "--access-token", TOKEN,
        "--app-secret", APP_SECRET, "--verify-token", "my-verify-token", "--display-phone", "+15550101234",
    )  # fmt: skip
    assert code == 0, err
    assert f"alpha: WhatsApp number {NUMBER} connected" in out and TOKEN not in out and APP_SECRET not in out

    config = await stored_config(shop_engine)
    assert config is not None
    assert TOKEN not in json.dumps(config) and APP_SECRET not in json.dumps(config), "no plaintext secret at rest"
    assert config["access_token"].startswith("enc:v1:") and config["app_secret"].startswith("enc:v1:")

    body = json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()
    box = SecretBox(cli_settings.secret_key.get_secret_value())
    redis = Redis.from_url(redis_url)
    try:
        async with open_accounts(session_factory(shop_engine), redis, box=box) as accounts:
            signers = await accounts.signers(body, sign(body, APP_SECRET), [NUMBER])
            assert [a.tenant.slug for a in signers] == ["alpha"], "a webhook signed with the new secret is accepted"
            assert await accounts.signers(body, sign(body, "another-secret"), [NUMBER]) == []
            assert await accounts.knows_verify_token("my-verify-token")

            code, out, err = await hub("whatsapp", "list", "--json")
            assert code == 0, err
            assert code == 0 and TOKEN not in out and APP_SECRET not in out and "my-verify-token" not in out
            assert json.loads(out) == [
                {
                    "tenant": "alpha",
                    "phone_number_id": NUMBER,
                    "display_phone_number": "+15550101234",
                    "secrets_encrypted": True,
                }
            ]

            code, out, _ = await hub("whatsapp", "disconnect", "--tenant", "alpha", "--phone-number-id", NUMBER)
            assert code == 0 and "disconnected" in out
            assert await stored_config(shop_engine) is None
            async with asyncio.timeout(5):  # the CLI announces the change; the running directory reloads
                while await accounts.find(NUMBER) is not None:  # noqa: ASYNC110 — the directory reloads in the background
                    await asyncio.sleep(0.05)
    finally:
        await redis.aclose()
    assert (await hub("whatsapp", "list"))[1].strip() == "no WhatsApp numbers connected"
    code, _, err = await hub("whatsapp", "disconnect", "--tenant", "alpha", "--phone-number-id", NUMBER)
    assert (code, err.strip()) == (1, f"error: shop 'alpha' has no WhatsApp number {NUMBER}")


async def test_a_number_stored_in_plaintext_by_an_older_hub_still_works_and_is_encrypted_when_reconnected(
    cli_settings: Settings, shop_engine: AsyncEngine, redis_url: str
) -> None:
    async with shop_engine.begin() as conn:
        tenant_id = (await conn.execute(select(m.Tenant.id).where(m.Tenant.slug == "alpha"))).scalar_one()
        await conn.execute(
            m.ChannelAccount.__table__.insert().values(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                channel=m.Channel.WHATSAPP,
                external_id=NUMBER,
                config={"app_secret": APP_SECRET, "access_token": TOKEN, "verify_token": "v"},
            )
        )
    body = b'{"object": "whatsapp_business_account", "entry": []}'
    redis = Redis.from_url(redis_url)
    try:
        box = SecretBox(cli_settings.secret_key.get_secret_value())
        async with open_accounts(session_factory(shop_engine), redis, box=box) as accounts:
            assert len(await accounts.signers(body, sign(body, APP_SECRET), [NUMBER])) == 1
    finally:
        await redis.aclose()
    assert "secrets in plaintext (reconnect to encrypt)" in (await hub("whatsapp", "list", "--tenant", "alpha"))[1]

    code, out, _ = await hub(
        "whatsapp", "connect", "--tenant", "alpha", "--phone-number-id", NUMBER, "--access-token", TOKEN,
        "--app-secret", APP_SECRET, "--verify-token", "v",
    )  # fmt: skip
    assert code == 0 and "updated" in out
    config = await stored_config(shop_engine)
    assert config is not None and APP_SECRET not in json.dumps(config) and TOKEN not in json.dumps(config)
    assert "secrets encrypted" in (await hub("whatsapp", "list", "--tenant", "alpha"))[1]


async def test_a_site_the_shop_allows_may_open_the_chat_and_another_is_refused(
    cli_settings: Settings, shop_engine: AsyncEngine, app_settings: Settings
) -> None:
    code, _, err = await hub("tenants", "set", "alpha", "--allowed-origin", "https://shop.example/products")
    assert (code, "is not a site like https://shop.example.com[:port] (no path)" in err) == (1, True)

    code, out, err = await hub(
        "tenants",
        "set",
        "alpha",
        "--allowed-origin",
        "https://Shop.Example",
        "--allowed-origin",
        "http://localhost:3000",
    )
    assert code == 0, err
    assert out.strip() == "alpha: allowed_origins none → https://shop.example, http://localhost:3000"

    app_ = create_app(app_settings)
    async with app_.router.lifespan_context(app_):
        transport = httpx.ASGITransport(app=app_)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:

            async def preflight(origin: str) -> httpx.Response:
                return await client.options(
                    "/v1/chat",
                    headers={
                        "Origin": origin,
                        "Access-Control-Request-Method": "POST",
                        "Access-Control-Request-Headers": "content-type,x-hub-key",
                    },
                )

            allowed = await preflight("https://shop.example")
            assert allowed.status_code == 204
            assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
            assert (await preflight("http://localhost:3000")).status_code == 204
            refused = await preflight("https://elsewhere.example")
            assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers


def test_the_widget_snippet_is_a_script_tag_on_the_given_base_url(cli_settings: Settings) -> None:
    assert run_hub("tenants", "create", "--name", "Alpha Shop", "--slug", "alpha")[0] == 0
    code, out, err = run_hub("widget", "snippet", "--tenant", "alpha", "--base-url", "https://hub.example.com/")
    assert code == 0, err
    assert out.strip() == '<script src="https://hub.example.com/widget.js" data-key="STOREFRONT_KEY"></script>'
    assert "hub keys create --tenant alpha --role storefront" in err
    assert "hub tenants set alpha --allowed-origin" in err
