"""The chat rate limits a public storefront key needs: per shopper session, per client address, per key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.db import models as m
from hub.settings import Settings
from service.app import create_app
from tests.conftest import Shop

ShopperAt = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]
"""Open an HTTP client whose requests reach the app from the given peer address."""

TRUSTED_PROXIES = "10.0.0.0/8, 192.168.0.1"
"""`HUB_TRUSTED_PROXIES` as an operator writes it, for the tests that trust a proxy."""
PROXY = "10.0.0.2"
"""The shop's reverse proxy, in the trusted network."""


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[ShopperAt]:
    """Run the full app once and hand out clients that connect to it from any address."""
    app = create_app(settings)

    @asynccontextmanager
    async def shopper_at(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 51000))
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
            yield client

    async with app.router.lifespan_context(app):
        yield shopper_at


def limits(app_settings: Settings, **update: Any) -> Settings:
    """The test's settings with roomy limits, tightened where a test asks (validated, as the environment is)."""
    roomy = {
        "chat_rate_limit_per_session_per_minute": 100,
        "chat_rate_limit_per_client_per_minute": 100,
        "chat_rate_limit_per_minute": 100,
    }
    return Settings(
        data_dir=app_settings.data_dir,
        database_url=app_settings.database_url,
        redis_url=app_settings.redis_url,
        **{**roomy, **update},
    )


def say(
    client: httpx.AsyncClient,
    shop: Shop,
    session_id: str,
    *,
    forwarded_for: str | None = None,
    path: str = "/v1/chat",
):
    headers = {"X-Hub-Key": shop.storefront_key, **({"X-Forwarded-For": forwarded_for} if forwarded_for else {})}
    return client.post(path, json={"session_id": session_id, "message": "hello"}, headers=headers)


def assert_limited(r: httpx.Response, names: str) -> None:
    """Assert a 429 that says which limit refused it and how long to wait."""
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "rate_limited"
    retry_after = int(r.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert names in r.json()["error"]["message"] and f"retry in {retry_after} s" in r.json()["error"]["message"]


async def test_a_noisy_session_is_limited_while_another_session_of_the_shop_keeps_chatting(
    app_settings: Settings, engine: AsyncEngine, shops: tuple[Shop, Shop], session: AsyncSession
) -> None:
    shop, _ = shops
    async with running(limits(app_settings, chat_rate_limit_per_session_per_minute=2)) as shopper_at:
        async with shopper_at("203.0.113.7") as noisy, shopper_at("198.51.100.9") as calm:
            assert [(await say(noisy, shop, "noisy")).status_code for _ in range(2)] == [200, 200]
            assert_limited(await say(noisy, shop, "noisy"), "more than 2 messages a minute in this chat session")
            assert_limited(await say(noisy, shop, "noisy", path="/v1/chat/stream"), "in this chat session")

            for _ in range(2):
                assert (await say(calm, shop, "calm")).status_code == 200, "another shopper of the shop is unaffected"
            # The limit is on the session, not on the device: the noisy shopper's new chat is answered.
            assert (await say(noisy, shop, "noisy-2")).status_code == 200
    stored = await session.scalar(select(func.count()).select_from(m.Message).where(m.Message.role == "customer"))
    assert stored == 5, "refused messages never reach the conversation"


async def test_the_same_session_id_in_another_shop_is_another_session(
    app_settings: Settings, engine: AsyncEngine, shops: tuple[Shop, Shop]
) -> None:
    alpha, bravo = shops
    async with running(limits(app_settings, chat_rate_limit_per_session_per_minute=1)) as shopper_at:
        async with shopper_at("203.0.113.7") as client:
            assert (await say(client, alpha, "w-1")).status_code == 200
            assert_limited(await say(client, alpha, "w-1"), "in this chat session")
            assert (await say(client, bravo, "w-1")).status_code == 200


async def test_two_sessions_from_one_address_share_the_address_limit(
    app_settings: Settings, engine: AsyncEngine, shops: tuple[Shop, Shop]
) -> None:
    shop, _ = shops
    async with running(limits(app_settings, chat_rate_limit_per_client_per_minute=3)) as shopper_at:
        async with shopper_at("203.0.113.7") as one_address, shopper_at("198.51.100.9") as another:
            statuses = [(await say(one_address, shop, f"tab-{n % 2}")).status_code for n in range(3)]
            assert statuses == [200, 200, 200]
            assert_limited(await say(one_address, shop, "tab-2"), "more than 3 messages a minute from this address")
            assert (await say(another, shop, "tab-0")).status_code == 200


async def test_addresses_in_one_ipv6_block_share_the_address_limit(
    app_settings: Settings, engine: AsyncEngine, shops: tuple[Shop, Shop]
) -> None:
    shop, _ = shops
    async with running(limits(app_settings, chat_rate_limit_per_client_per_minute=2)) as shopper_at:
        for n, address in enumerate(["2001:db8:1:2::a", "2001:db8:1:2:ffff::b"]):
            async with shopper_at(address) as client:
                assert (await say(client, shop, f"s-{n}")).status_code == 200
        async with shopper_at("2001:db8:1:2::c") as same_block, shopper_at("2001:db8:1:3::a") as next_block:
            assert_limited(await say(same_block, shop, "s-3"), "from this address")
            assert (await say(next_block, shop, "s-4")).status_code == 200


async def test_a_spoofed_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_address_limit(
    app_settings: Settings, engine: AsyncEngine, shops: tuple[Shop, Shop]
) -> None:
    shop, _ = shops
    settings = limits(app_settings, chat_rate_limit_per_client_per_minute=2, trusted_proxies=TRUSTED_PROXIES)
    async with running(settings) as shopper_at:
        async with shopper_at("203.0.113.7") as client:
            for n in range(2):
                assert (await say(client, shop, f"s-{n}", forwarded_for=f"192.0.2.{n}")).status_code == 200
            # Naming a trusted proxy as the last hop does not make the visitor one.
            spoofed = await say(client, shop, "s-2", forwarded_for="192.0.2.99, 10.0.0.5")
            assert_limited(spoofed, "from this address")


async def test_shoppers_behind_a_trusted_proxy_are_limited_separately(
    app_settings: Settings, engine: AsyncEngine, shops: tuple[Shop, Shop]
) -> None:
    shop, _ = shops
    settings = limits(app_settings, chat_rate_limit_per_client_per_minute=2, trusted_proxies=TRUSTED_PROXIES)
    async with running(settings) as shopper_at:
        async with shopper_at(PROXY) as proxy:
            # The proxy appends the address it saw; what the visitor wrote to its left proves nothing.
            for n in range(2):
                r = await say(proxy, shop, f"a-{n}", forwarded_for=f"192.0.2.{n}, 203.0.113.7")
                assert r.status_code == 200
            assert_limited(await say(proxy, shop, "a-2", forwarded_for="203.0.113.7"), "from this address")
            # Two proxies deep (a CDN in front of the shop's balancer, both trusted): still the shopper's address.
            assert_limited(await say(proxy, shop, "a-3", forwarded_for="203.0.113.7, 10.1.1.1"), "from this address")

            for n in range(2):
                assert (await say(proxy, shop, f"b-{n}", forwarded_for="198.51.100.9")).status_code == 200


async def test_the_per_key_ceiling_still_applies_across_sessions_and_addresses(
    app_settings: Settings, engine: AsyncEngine, shops: tuple[Shop, Shop]
) -> None:
    alpha, bravo = shops
    async with running(limits(app_settings, chat_rate_limit_per_minute=3)) as shopper_at:
        for n in range(3):
            async with shopper_at(f"203.0.113.{n}") as client:
                assert (await say(client, alpha, f"s-{n}")).status_code == 200
        async with shopper_at("198.51.100.9") as newcomer:
            assert_limited(await say(newcomer, alpha, "s-9"), "more than 3 chat messages a minute with this shop's key")
            assert (await say(newcomer, bravo, "s-9")).status_code == 200, "another shop's key has its own ceiling"


async def test_messages_refused_by_one_limit_do_not_spend_the_others(
    app_settings: Settings, engine: AsyncEngine, shops: tuple[Shop, Shop]
) -> None:
    shop, _ = shops
    settings = limits(app_settings, chat_rate_limit_per_session_per_minute=1, chat_rate_limit_per_minute=3)
    async with running(settings) as shopper_at:
        async with shopper_at("203.0.113.7") as noisy, shopper_at("198.51.100.9") as calm:
            assert (await say(noisy, shop, "noisy")).status_code == 200
            for _ in range(5):
                assert_limited(await say(noisy, shop, "noisy"), "in this chat session")
            # Only the one answered message counts against the shop's key: two more are answered.
            assert [(await say(calm, shop, f"calm-{n}")).status_code for n in range(3)] == [200, 200, 429]
