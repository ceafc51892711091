"""Guessing is throttled: console sign-ins per email and per address, invalid API keys per address.

Real HTTP on the full app (the console mounted), real Redis, the test's database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.db import models as m
from hub.settings import Settings
from hub.tenancy import admin
from service.app import create_app
from tests.conftest import Shop, make_shop

EMAIL = "ops@alpha.example.com"
PASSWORD = "right-password-123"


@pytest.fixture
async def app(app_settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.ASGITransport]:
    """The full app; each test talks to it from one address or another (`from_address`)."""
    hub = create_app(app_settings)
    async with hub.router.lifespan_context(hub):
        yield hub


def from_address(app: object, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://hub.test")


@pytest.fixture
async def shop(session: AsyncSession) -> Shop:
    shop = await make_shop(session, "alpha")
    await admin.create_operator(session, tenant_id=shop.tenant_id, email=EMAIL, password=PASSWORD)
    await session.commit()
    return shop


def sign_in(client: httpx.AsyncClient, password: str, email: str = EMAIL) -> object:
    return client.post("/console/login", data={"username": email, "password": password})


def lockouts(kind: str, scope: str) -> float:
    return REGISTRY.get_sample_value("hub_auth_lockouts_total", {"kind": kind, "scope": scope}) or 0.0


async def test_forty_wrong_passwords_lock_the_operator_out_and_the_right_one_is_refused_until_it_ends(
    app: object, shop: Shop, session: AsyncSession
) -> None:
    locked_before = lockouts("password", "account")
    async with from_address(app, "198.51.100.7") as guesser:
        answers = [await sign_in(guesser, f"guess-{n}") for n in range(40)]
        right = await sign_in(guesser, PASSWORD)

    statuses = [r.status_code for r in answers]
    assert statuses[:4] == [401] * 4, "a few mistakes are answered as such"
    assert set(statuses[4:]) == {429}, statuses
    # Past the free tries each failure makes the next wait: refused unchecked, with the wait to keep.
    first_wait = answers[4]
    assert first_wait.json()["error"]["code"] == "too_many_sign_ins"
    assert int(first_wait.headers["retry-after"]) >= 1 and "locked" not in first_wait.json()["error"]["message"]
    last = answers[-1]
    assert "locked out" in last.json()["error"]["message"]
    assert int(last.headers["retry-after"]) > 60, "a lockout lasts minutes, not a second"

    assert right.status_code == 429, "the right password is refused while the lockout lasts"
    assert "access_token" not in right.cookies
    assert right.json()["error"]["code"] == "too_many_sign_ins"
    assert lockouts("password", "account") == locked_before + 1

    events = (
        (await session.execute(select(m.AuditEvent).where(m.AuditEvent.action == "console.sign_in_locked_out")))
        .scalars()
        .all()
    )
    assert [(e.tenant_id, e.subject) for e in events] == [(shop.tenant_id, EMAIL)]
    assert events[0].data["client"] == "198.51.100.7"

    # Someone else's sign-in, from elsewhere, is not held up by it.
    other = "other@alpha.example.com"
    await admin.create_operator(session, tenant_id=shop.tenant_id, email=other, password=PASSWORD)
    await session.commit()
    async with from_address(app, "203.0.113.9") as colleague:
        assert (await sign_in(colleague, PASSWORD, email=other)).status_code == 200


async def test_one_address_guessing_many_emails_is_locked_out_while_a_mistyping_operator_signs_in(
    app: object, shop: Shop
) -> None:
    async with from_address(app, "203.0.113.10") as operator:
        assert (await sign_in(operator, "wrong password")).status_code == 401
        assert (await sign_in(operator, PASSWORD)).json()["success"] is True
    async with from_address(app, "198.51.100.8") as sprayer:
        answers = [await sign_in(sprayer, "password-1", email=f"user{n}@alpha.example.com") for n in range(40)]
        assert answers[-1].status_code == 429 and "locked out" in answers[-1].json()["error"]["message"]
        assert (await sign_in(sprayer, PASSWORD)).status_code == 429, "the address is locked out, whoever it names"
    async with from_address(app, "203.0.113.10") as operator:
        assert (await sign_in(operator, PASSWORD)).status_code == 200


async def test_forty_invalid_keys_from_one_address_get_429_while_other_addresses_are_served(
    app: object, shop: Shop, session: AsyncSession
) -> None:
    locked_before = lockouts("api_key", "client")
    async with from_address(app, "198.51.100.20") as guesser:
        answers = [await guesser.get("/v1/products", headers={"X-Hub-Key": f"hub_sf_guess{n}"}) for n in range(40)]
        valid_from_guesser = await guesser.get("/v1/products", headers={"X-Hub-Key": shop.storefront_key})

    statuses = [r.status_code for r in answers]
    assert 401 in statuses and statuses[-1] == 429, statuses
    limited = answers[-1]
    assert limited.json()["error"]["code"] == "too_many_invalid_keys"
    assert int(limited.headers["retry-after"]) >= 1
    assert valid_from_guesser.status_code == 429, "a locked-out address learns nothing, not even from a valid key"
    assert lockouts("api_key", "client") == locked_before + 1
    events = (
        (await session.execute(select(m.AuditEvent).where(m.AuditEvent.action == "api_key.locked_out"))).scalars().all()
    )
    assert [e.subject for e in events] == ["198.51.100.20"]

    async with from_address(app, "203.0.113.21") as shopper:
        served = await shopper.get("/v1/products", headers={"X-Hub-Key": shop.storefront_key})
    assert served.status_code == 200
