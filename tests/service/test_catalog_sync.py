"""A shop's own systems keep HUB in sync over HTTP: products put one at a time or in bulk, archived, restocked; orders
and customers put by their keys. On SQLite and Postgres, with two shops whose SKUs and order numbers collide."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from tests.conftest import Shop

LANTERN: dict[str, Any] = {
    "title": "Brass Lantern",
    "description": "<p>A <strong>brass</strong> lantern for the garden.</p>",
    "category": "Garden",
    "tags": ["outdoor", "brass"],
    "variants": [
        {"sku": "LAN-S", "price": "39.00", "compare_at_price": "49.00", "stock": 4, "options": {"Size": "S"}},
        {"sku": "LAN-L", "price": "59.00", "stock": 2, "options": {"Size": "L"}},
    ],
}


def admin(shop: Shop) -> dict[str, str]:
    return {"X-Hub-Key": shop.admin_key}


def shopper(shop: Shop) -> dict[str, str]:
    return {"X-Hub-Key": shop.storefront_key}


async def variants_of(session: AsyncSession, shop: Shop, sku: str) -> list[m.ProductVariant]:
    session.expire_all()
    rows = await session.execute(
        select(m.ProductVariant)
        .join(m.Product, m.Product.id == m.ProductVariant.product_id)
        .where(m.Product.tenant_id == shop.tenant_id, m.Product.sku == sku)
        .order_by(m.ProductVariant.position)
    )
    return list(rows.scalars())


async def test_a_product_put_lands_with_its_variants_and_the_same_put_again_changes_nothing(
    api: httpx.AsyncClient, shops: tuple[Shop, Shop], session: AsyncSession
) -> None:
    alpha, _ = shops
    created = await api.put("/v1/products/LAN-S", json=LANTERN, headers=admin(alpha))
    assert created.status_code == 201, created.text
    assert created.json() == {"sku": "LAN-S", "status": "created", "errors": []}

    shown = (await api.get("/v1/products/LAN-L", headers=shopper(alpha))).json()
    assert (shown["title"], shown["price"], shown["stock"]) == ("Brass Lantern", "39.00", 6)
    assert shown["description"] == "A brass lantern for the garden."
    assert shown["attributes"]["options"] == {"Size": ["S", "L"]}
    assert [(v.sku, str(v.price), v.stock) for v in await variants_of(session, alpha, "LAN-S")] == [
        ("LAN-S", "39.00", 4),
        ("LAN-L", "59.00", 2),
    ]

    again = await api.put("/v1/products/LAN-S", json=LANTERN, headers=admin(alpha))
    assert again.status_code == 200 and again.json()["status"] == "unchanged"

    cheaper = {**LANTERN, "variants": [{**LANTERN["variants"][0], "price": "35.00"}]}
    updated = await api.put("/v1/products/LAN-S", json=cheaper, headers=admin(alpha))
    assert updated.json()["status"] == "updated"
    assert [v.sku for v in await variants_of(session, alpha, "LAN-S")] == ["LAN-S"], "the put replaced the variants"
    assert (await api.get("/v1/products/LAN-L", headers=shopper(alpha))).status_code == 404


async def test_a_product_made_in_hub_is_replaced_by_its_sku_not_refused(
    api: httpx.AsyncClient, shops: tuple[Shop, Shop]
) -> None:
    alpha, _ = shops
    body = {"title": "Alpha tee, organic", "price": "12.50", "stock": 9}
    response = await api.put(f"/v1/products/{alpha.sku}", json=body, headers=admin(alpha))
    assert response.status_code == 200 and response.json()["status"] == "updated", response.text
    shown = (await api.get(f"/v1/products/{alpha.sku}", headers=shopper(alpha))).json()
    assert (shown["title"], shown["price"], shown["stock"]) == ("Alpha tee, organic", "12.50", 9)


async def test_validation_errors_are_422_and_name_the_field(api: httpx.AsyncClient, shops: tuple[Shop, Shop]) -> None:
    alpha, _ = shops
    cases: list[tuple[dict[str, Any], str]] = [
        ({**LANTERN, "variants": [{"sku": "LAN-S", "price": "cheap"}]}, "variants.0.price"),
        ({k: v for k, v in LANTERN.items() if k != "title"}, "title"),
        ({"title": "No price"}, "price"),
        ({**LANTERN, "variants": [{"sku": "OTHER", "price": "1.00"}]}, "variants"),
        ({**LANTERN, "status": "sold"}, "status"),
        ({**LANTERN, "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        response = await api.put("/v1/products/LAN-S", json=body, headers=admin(alpha))
        assert response.status_code == 422, (field, response.text)
        assert field in response.json()["error"]["message"], (field, response.json())
    assert (await api.get("/v1/products/LAN-S", headers=shopper(alpha))).status_code == 404, "nothing landed"


async def test_a_bulk_lands_the_good_products_and_says_why_each_other_was_rejected(
    api: httpx.AsyncClient, shops: tuple[Shop, Shop]
) -> None:
    alpha, _ = shops
    await api.put("/v1/products/LAN-S", json=LANTERN, headers=admin(alpha))
    body = {
        "products": [
            {"sku": "MUG-1", "title": "Mug", "price": "8.00", "stock": 3},
            {"sku": "MUG-2", "price": "8.00"},
            {"sku": "LAN-S", **LANTERN},
            {
                "sku": "POT-1",
                "title": "Pot",
                "variants": [{"sku": "LAN-L", "price": "5.00"}, {"sku": "POT-1", "price": "5"}],
            },
        ]
    }
    response = await api.post("/v1/products/bulk", json=body, headers=admin(alpha))
    assert response.status_code == 200, response.text
    out = response.json()
    assert [(r["sku"], r["status"]) for r in out["results"]] == [
        ("MUG-1", "created"),
        ("MUG-2", "rejected"),
        ("LAN-S", "unchanged"),
        ("POT-1", "created"),
    ]
    assert out["results"][1]["errors"] == ["title: Field required"]
    assert (out["created"], out["unchanged"], out["rejected"]) == (2, 1, 1)
    assert (await api.get("/v1/products/MUG-1", headers=shopper(alpha))).json()["stock"] == 3
    pot = (await api.get("/v1/products/POT-1", headers=shopper(alpha))).json()
    assert pot["price"] == "5.00", "the variant whose SKU the lantern holds was left out, the other landed"
    lantern = (await api.get("/v1/products/LAN-L", headers=shopper(alpha))).json()
    assert lantern["title"] == "Brass Lantern"


async def test_archiving_hides_a_product_from_shoppers_and_putting_it_again_brings_it_back(
    api: httpx.AsyncClient, shops: tuple[Shop, Shop]
) -> None:
    alpha, _ = shops
    await api.put("/v1/products/LAN-S", json=LANTERN, headers=admin(alpha))

    async def shoppers_find_it() -> bool:
        search = (await api.get("/v1/products", params={"q": "lantern"}, headers=shopper(alpha))).json()
        chat = await api.post(
            "/v1/chat",
            json={"session_id": "s-lantern", "message": "do you sell a brass lantern?"},
            headers=shopper(alpha),
        )
        assert chat.status_code == 200, chat.text
        return bool(search["items"]) or "Brass Lantern" in chat.json()["reply"]

    assert await shoppers_find_it()
    deleted = await api.delete("/v1/products/LAN-L", headers=admin(alpha))
    assert deleted.status_code == 200 and deleted.json() == {"sku": "LAN-L", "status": "archived"}
    assert not await shoppers_find_it()
    assert (await api.get("/v1/products/LAN-S", headers=shopper(alpha))).status_code == 404
    assert (await api.delete("/v1/products/NOPE-1", headers=admin(alpha))).status_code == 404

    assert (await api.put("/v1/products/LAN-S", json=LANTERN, headers=admin(alpha))).json()["status"] == "updated"
    assert await shoppers_find_it()


async def test_inventory_sets_one_variants_stock_and_the_product_shows_the_sum(
    api: httpx.AsyncClient, shops: tuple[Shop, Shop]
) -> None:
    alpha, _ = shops
    await api.put("/v1/products/LAN-S", json=LANTERN, headers=admin(alpha))
    response = await api.patch(
        "/v1/products/LAN-S/inventory", json={"variant_sku": "LAN-L", "stock": 10}, headers=admin(alpha)
    )
    assert response.json() == {"sku": "LAN-S", "variant_sku": "LAN-L", "stock": 10, "product_stock": 14}
    oversold = await api.patch("/v1/products/LAN-S/inventory", json={"stock": -3}, headers=admin(alpha))
    assert oversold.json()["product_stock"] == 10, "the path's own variant is at 0, not -3"
    assert (await api.get("/v1/products/LAN-S", headers=shopper(alpha))).json()["stock"] == 10

    plain = await api.patch(f"/v1/products/{alpha.sku}/inventory", json={"stock": 0}, headers=admin(alpha))
    assert plain.json()["variant_sku"] is None
    assert (await api.get(f"/v1/products/{alpha.sku}", headers=shopper(alpha))).json()["in_stock"] is False

    missing = await api.patch(
        "/v1/products/LAN-S/inventory", json={"variant_sku": "LAN-XL", "stock": 1}, headers=admin(alpha)
    )
    assert missing.status_code == 404 and "LAN-XL" in missing.json()["error"]["message"]
    bad = await api.patch("/v1/products/LAN-S/inventory", json={"stock": "many"}, headers=admin(alpha))
    assert bad.status_code == 422 and "stock" in bad.json()["error"]["message"]


async def test_orders_and_customers_are_put_by_their_keys(api: httpx.AsyncClient, shops: tuple[Shop, Shop]) -> None:
    alpha, _ = shops
    order = {
        "email": "Sam@Example.com",
        "customer_name": "Sam Green",
        "status": "paid",
        "currency": "EUR",
        "shipping": "4.90",
        "items": [{"sku": "LAN-S", "title": "Brass Lantern", "quantity": 2, "unit_price": "39.00", "size": "S"}],
        "placed_at": "2026-12-01T10:00:00Z",
    }
    created = await api.put("/v1/orders/B-2001", json=order, headers=admin(alpha))
    assert created.status_code == 201 and created.json() == {"status": "created"}, created.text
    operator = {"X-Hub-Key": alpha.operator_key}
    shown = (await api.get("/v1/orders/B-2001", headers=operator)).json()
    assert (shown["status"], shown["total"], shown["customer_email"]) == ("paid", "82.90", "sam@example.com")
    assert (await api.put("/v1/orders/B-2001", json=order, headers=admin(alpha))).json() == {"status": "unchanged"}
    shipped = {**order, "status": "shipped", "carrier": "DHL", "tracking_number": "JD0001"}
    assert (await api.put("/v1/orders/B-2001", json=shipped, headers=admin(alpha))).json() == {"status": "updated"}
    shown = (await api.get("/v1/orders/B-2001", headers=operator)).json()
    assert (shown["status"], shown["tracking_number"]) == ("shipped", "JD0001")
    bad = await api.put("/v1/orders/B-2002", json={**order, "items": []}, headers=admin(alpha))
    assert bad.status_code == 422 and "items" in bad.json()["error"]["message"]
    bad_email = await api.put("/v1/orders/B-2002", json={**order, "email": "sam"}, headers=admin(alpha))
    assert bad_email.status_code == 422 and "email" in bad_email.json()["error"]["message"]

    customer = {"name": "Sam Green", "phone": "+1 415 555 0100", "accepts_marketing": True, "tags": ["vip"]}
    put = await api.put("/v1/customers/sam@example.com", json=customer, headers=admin(alpha))
    assert put.status_code == 200 and put.json() == {"status": "updated"}, "the order created Sam: this updates him"
    assert (await api.put("/v1/customers/sam@example.com", json=customer, headers=admin(alpha))).json() == {
        "status": "unchanged"
    }
    new = await api.put("/v1/customers/lee@example.com", json={"name": "Lee"}, headers=admin(alpha))
    assert new.status_code == 201
    not_email = await api.put("/v1/customers/12345", json={"name": "Lee"}, headers=admin(alpha))
    assert not_email.status_code == 422 and "id" in not_email.json()["error"]["message"]


async def test_one_shops_key_never_sees_or_changes_anothers_rows(
    api: httpx.AsyncClient, shops: tuple[Shop, Shop]
) -> None:
    alpha, bravo = shops
    await api.put("/v1/products/BRAVO-ONLY", json={"title": "Bravo mug", "price": "5.00"}, headers=admin(bravo))
    assert (await api.delete("/v1/products/BRAVO-ONLY", headers=admin(alpha))).status_code == 404
    stock = await api.patch("/v1/products/BRAVO-ONLY/inventory", json={"stock": 0}, headers=admin(alpha))
    assert stock.status_code == 404

    # Both shops have SKU-1 and order A-10001: alpha's writes land on alpha's rows only.
    await api.put(f"/v1/products/{alpha.sku}", json={"title": "Alpha only", "price": "1.00"}, headers=admin(alpha))
    await api.delete(f"/v1/products/{alpha.sku}", headers=admin(alpha))
    bravos = (await api.get(f"/v1/products/{bravo.sku}", headers=shopper(bravo))).json()
    assert (bravos["title"], bravos["price"]) == ("bravo tee", "99.00")
    order = {
        "email": "x@example.com",
        "status": "cancelled",
        "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": "1"}],
    }
    await api.put("/v1/orders/A-10001", json=order, headers=admin(alpha))
    bravo_order = (await api.get("/v1/orders/A-10001", headers={"X-Hub-Key": bravo.operator_key})).json()
    assert bravo_order["status"] == "shipped"
    assert (await api.get("/v1/products/BRAVO-ONLY", headers=shopper(bravo))).status_code == 200


async def test_only_an_admin_key_may_sync(api: httpx.AsyncClient, shops: tuple[Shop, Shop]) -> None:
    alpha, _ = shops
    for key in (alpha.storefront_key, alpha.operator_key):
        response = await api.put("/v1/products/LAN-S", json=LANTERN, headers={"X-Hub-Key": key})
        assert response.status_code == 403
    assert (await api.delete("/v1/products/LAN-S")).status_code == 401


async def test_the_bulk_path_is_not_read_as_a_sku(api: httpx.AsyncClient, shops: tuple[Shop, Shop]) -> None:
    alpha, _ = shops
    for method in ("GET", "PUT", "DELETE"):
        response = await api.request(method, "/v1/products/bulk", headers=admin(alpha))
        assert (response.status_code, response.headers.get("allow")) == (405, "POST"), (method, response.text)
