"""A shop's Shopify store pushes its changes: signed webhooks in, applied by a job worker, seen by shoppers and
operators. Bodies are shaped like Shopify's Admin REST webhook payloads (`tests/fixtures/shopify`)."""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.encryption import SecretBox, is_sealed
from hub.settings import Settings
from hub.shopify.connect import connect_shopify, webhook_signer
from service.app import create_app
from service.cli.main import app as cli
from service.workers import host, worker_queue
from tests.conftest import Shop, make_shop
from tests.job_tasks import record_enqueues

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
SECRET = "shpss_0123456789abcdef0123456789abcdef"

pytestmark = pytest.mark.timeout(60)


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Store:
    """The app, a job worker applying Shopify webhooks, and a shop with its Shopify store connected."""

    client: httpx.AsyncClient
    settings: Settings
    shop: Shop
    sessions: async_sessionmaker[AsyncSession]
    task_ids: list[str] = field(default_factory=list)
    workers: list[tuple[asyncio.Event, asyncio.Task[None]]] = field(default_factory=list)

    async def post(
        self,
        topic: str,
        payload: dict[str, Any] | bytes,
        *,
        webhook_id: str | None = None,
        signature: str | None = "sign",
        slug: str | None = None,
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
            "X-Shopify-Shop-Domain": "harbour.myshopify.com",
            "X-Shopify-API-Version": "2025-01",
        }
        if signature is not None:
            headers["X-Shopify-Hmac-Sha256"] = sign(body) if signature == "sign" else signature
        return await self.client.post(f"/webhooks/shopify/{slug or self.shop.slug}", content=body, headers=headers)

    async def deliver(self, topic: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        """Post a signed webhook as Shopify would, and wait for the worker to apply it; return the job's result."""
        if not self.workers:
            stop = asyncio.Event()
            self.workers.append((stop, asyncio.create_task(host(worker_queue(self.settings), stop))))
        queued = len(self.task_ids)
        response = await self.post(topic, payload, **kwargs)
        assert response.status_code == 202, response.text
        assert len(self.task_ids) == queued + 1
        return await self.settled()

    async def settled(self) -> Any:
        result = await self.client_jobs.result(self.task_ids[-1], timeout_s=30)
        assert result.success, result.exception
        return result.result

    client_jobs: Any = None

    async def product(self, sku: str) -> httpx.Response:
        return await self.client.get(f"/v1/products/{sku}", headers={"X-Hub-Key": self.shop.storefront_key})

    async def order(self, number: str) -> httpx.Response:
        return await self.client.get(
            f"/v1/orders/{number.replace('#', '%23')}", headers={"X-Hub-Key": self.shop.operator_key}
        )

    async def ledger(self) -> int:
        async with self.sessions() as session:
            return (await session.execute(select(func.count()).select_from(m.ProcessedWebhookEvent))).scalar_one()


@pytest.fixture
async def store(
    app_settings: Settings, engine: AsyncEngine, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Store]:
    shop = await make_shop(session, "harbour")
    tenant = await session.get(m.Tenant, shop.tenant_id)
    assert tenant is not None
    await connect_shopify(
        session, SecretBox(app_settings.secret_key.get_secret_value()), tenant=tenant, webhook_secret=SECRET
    )
    await session.commit()
    app = create_app(app_settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            harness = Store(client, app_settings, shop, session_factory(engine))
            jobs = app.state.resources.jobs
            harness.client_jobs = jobs
            record_enqueues(jobs, harness.task_ids, monkeypatch)
            try:
                yield harness
            finally:
                for stop, _ in harness.workers:
                    stop.set()
                await asyncio.gather(*(task for _, task in harness.workers))


async def test_unsigned_or_wrongly_signed_webhooks_are_refused_and_nothing_is_stored(store: Store) -> None:
    product = load("products_create")
    for signature in (None, "", sign(json.dumps(product).encode(), "another-secret"), "not base64 at all"):
        response = await store.post("products/create", product, signature=signature)
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] in ("missing_signature", "invalid_signature")
    signed_for_other_body = sign(json.dumps({**product, "title": "Forged"}).encode())
    assert (await store.post("products/create", product, signature=signed_for_other_body)).status_code == 401
    assert store.task_ids == [] and await store.ledger() == 0
    assert (await store.product("HT-S-NAVY")).status_code == 404


async def test_an_unknown_shop_or_one_without_shopify_gets_the_same_404(store: Store, session: AsyncSession) -> None:
    await make_shop(session, "no-shopify")
    unknown = await store.post("products/create", load("products_create"), slug="nobody")
    unconnected = await store.post("products/create", load("products_create"), slug="no-shopify")
    assert unknown.status_code == unconnected.status_code == 404
    assert unknown.json()["error"] == unconnected.json()["error"]
    assert store.task_ids == []


async def test_duplicate_webhook_is_processed_once(store: Store) -> None:
    product = load("products_create")
    assert await store.deliver("products/create", product, webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043") == {
        "topic": "products/create",
        "outcome": "created",
    }
    # The shop changes the stock since; Shopify redelivers the old body (our 202 was lost): it must not undo that.
    patched = await store.client.patch(
        "/v1/products/HT-S-NAVY/inventory", json={"stock": 1}, headers={"X-Hub-Key": store.shop.admin_key}
    )
    assert patched.status_code == 200
    again = await store.post("products/create", product, webhook_id="b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert len(store.task_ids) == 1 and await store.ledger() == 1
    assert (await store.product("HT-S-NAVY")).json()["stock"] == 4, "S at 1 and M at 3: the redelivery changed nothing"


async def test_products_are_created_updated_and_deleted_from_their_webhooks(
    store: Store, session: AsyncSession
) -> None:
    product = load("products_create")
    assert (await store.deliver("products/create", product))["outcome"] == "created"
    shown = (await store.product("HT-M-NAVY")).json()
    assert (shown["title"], shown["price"], shown["stock"], shown["category"]) == (
        "Harbour Tee",
        "24.00",
        8,
        "T-shirts",
    )
    assert shown["description"] == "Soft organic cotton tee.\n- Made in Portugal"
    assert shown["tags"] == ["cotton", "summer"] and shown["attributes"]["sizes"] == ["S", "M"]
    assert shown["attributes"]["images"][0]["alt"] == "Harbour Tee, front"
    session.expire_all()
    variants = (
        await session.execute(
            select(m.ProductVariant)
            .where(m.ProductVariant.tenant_id == store.shop.tenant_id)
            .order_by(m.ProductVariant.position)
        )
    ).scalars()
    assert [
        (v.sku, v.options, str(v.compare_at_price), v.attributes["shopify_inventory_item_id"]) for v in variants
    ] == [
        ("HT-S-NAVY", {"Size": "S", "Color": "Navy"}, "30.00", "808950810"),
        ("HT-M-NAVY", {"Size": "M", "Color": "Navy"}, "None", "808950811"),
    ]

    assert (await store.deliver("products/update", product))["outcome"] == "unchanged"
    sale = copy.deepcopy(product)
    sale["variants"][1]["price"] = "19.00"
    sale["handle"] = "harbour-tee-renamed"  # a renamed handle is still the same product (Shopify's id)
    assert (await store.deliver("products/update", sale))["outcome"] == "updated"
    assert (await store.product("HT-S-NAVY")).json()["price"] == "19.00"

    assert (await store.deliver("products/delete", load("products_delete")))["outcome"] == "archived"
    assert (await store.product("HT-S-NAVY")).status_code == 404
    search = await store.client.get(
        "/v1/products", params={"q": "organic"}, headers={"X-Hub-Key": store.shop.storefront_key}
    )
    assert search.json()["items"] == []

    draft = copy.deepcopy(product)
    draft["status"] = "draft"
    assert (await store.deliver("products/update", draft))["outcome"] == "updated"
    assert (await store.product("HT-S-NAVY")).status_code == 404, "a draft is not shown to shoppers"


async def test_an_inventory_level_update_sets_the_variants_stock(store: Store) -> None:
    await store.deliver("products/create", load("products_create"))
    assert (await store.deliver("inventory_levels/update", load("inventory_levels_update")))["outcome"] == "stock_set"
    assert (await store.product("HT-M-NAVY")).json()["stock"] == 5, "M sold out, S still has 5"
    restock = {**load("inventory_levels_update"), "inventory_item_id": 808950810, "available": 12}
    await store.deliver("inventory_levels/update", restock)
    assert (await store.product("HT-S-NAVY")).json()["stock"] == 12
    unknown = {**restock, "inventory_item_id": 1}
    assert (await store.deliver("inventory_levels/update", unknown))["outcome"] == "skipped"


async def test_orders_follow_their_webhooks_from_paid_to_shipped_to_cancelled(store: Store) -> None:
    order = load("orders_create")
    assert (await store.deliver("orders/create", order))["outcome"] == "created"
    shown = (await store.order("#1001")).json()
    assert (shown["status"], shown["total"], shown["customer_email"], shown["currency"]) == (
        "paid",
        "52.90",
        "jon@example.com",
        "USD",
    )
    assert shown["items"] == [
        {
            "sku": "HT-S-NAVY",
            "title": "Harbour Tee",
            "quantity": 2,
            "unit_price": "24.00",
            "size": "S",
            "colour": "Navy",
        }
    ]
    assert (await store.deliver("orders/updated", order))["outcome"] == "unchanged"

    fulfilled = copy.deepcopy(order)
    fulfilled["fulfillment_status"] = "fulfilled"
    fulfilled["fulfillments"] = [
        {
            "id": 255858046,
            "order_id": order["id"],
            "status": "success",
            "tracking_company": "UPS",
            "tracking_number": "1Z2345",
            "tracking_numbers": ["1Z2345"],
            "tracking_url": "https://www.ups.com/track?tracknum=1Z2345",
            "tracking_urls": ["https://www.ups.com/track?tracknum=1Z2345"],
        }
    ]
    assert (await store.deliver("orders/fulfilled", fulfilled))["outcome"] == "updated"
    shown = (await store.order("#1001")).json()
    assert (shown["status"], shown["carrier"], shown["tracking_number"]) == ("shipped", "UPS", "1Z2345")

    cancelled = {**fulfilled, "cancelled_at": "2026-12-02T10:00:00-05:00", "financial_status": "refunded"}
    assert (await store.deliver("orders/cancelled", cancelled))["outcome"] == "updated"
    assert (await store.order("#1001")).json()["status"] == "cancelled"

    no_email = {**order, "name": "#1002", "email": None, "contact_email": None, "customer": None}
    assert (await store.deliver("orders/create", no_email))["outcome"] == "skipped"
    assert (await store.order("#1002")).status_code == 404


async def test_an_unknown_topic_is_answered_200_and_ignored(store: Store) -> None:
    response = await store.post("customers/create", {"id": 1, "email": "a@example.com"})
    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    assert store.task_ids == [] and await store.ledger() == 0
    not_json = await store.post("products/create", b"<xml/>")
    assert not_json.status_code == 400 and store.task_ids == []


def run_hub(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


async def hub(*args: str) -> tuple[int, str, str]:
    """Run a `hub` command as a shell would: on its own thread (it runs its own event loop)."""
    return await asyncio.to_thread(run_hub, *args)


async def test_the_cli_connects_with_the_secret_encrypted_and_never_prints_it(cli_settings: Settings) -> None:
    assert (await hub("tenants", "create", "--name", "Harbour", "--slug", "harbour"))[0] == 0
    code, out, err = await hub("shopify", "connect", "--tenant", "harbour", "--webhook-secret", SECRET)
    assert code == 0, err
    assert SECRET not in out + err and "/webhooks/shopify/harbour" in out
    engine = create_engine(cli_settings.resolved_database_url)
    try:
        async with session_factory(engine)() as session:
            stored = (await session.execute(select(m.ShopConnection))).scalar_one()
            assert is_sealed(stored.config["webhook_secret"]) and SECRET not in json.dumps(stored.config)
            box = SecretBox(cli_settings.secret_key.get_secret_value())
            signer = await webhook_signer(session, box, "harbour")
            assert signer is not None and signer.signed(b"{}", sign(b"{}"))

        code, out, err = await hub("shopify", "disconnect", "--tenant", "harbour")
        assert code == 0 and "disconnected" in out, err
        async with session_factory(engine)() as session:
            assert await webhook_signer(session, box, "harbour") is None
    finally:
        await engine.dispose()
    code, _, err = await hub("shopify", "disconnect", "--tenant", "harbour")
    assert (code, err.strip()) == (1, "error: shop 'harbour' has no Shopify store connected")
