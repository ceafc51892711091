"""The HTTP app: keys, roles, tenant isolation and error bodies, on SQLite and on Postgres."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.db import models as m
from hub.tenancy import admin
from tests.conftest import Shop


async def test_health_readiness_and_openapi(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "redis": "ok"}
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert {"/healthz", "/v1/products", "/v1/products/{sku}", "/v1/tenant"} <= set(paths)
    assert "hub_http_requests_total" in (await api.get("/metrics")).text


async def test_every_response_carries_a_request_id(api: httpx.AsyncClient) -> None:
    assert len((await api.get("/healthz")).headers["x-request-id"]) == 32
    assert (await api.get("/healthz", headers={"X-Request-ID": "abc-123"})).headers["x-request-id"] == "abc-123"


async def test_a_clients_own_request_id_is_echoed_on_errors_too_and_a_malformed_one_replaced(
    api: httpx.AsyncClient, shops: tuple[Shop, Shop]
) -> None:
    sane = "trace.2026-12-06_" + "x" * 111  # 128 characters, the longest kept
    key = {"X-Hub-Key": shops[0].storefront_key}
    for path, headers, status in [
        ("/healthz", {}, 200),
        ("/v1/products", {}, 401),
        ("/v1/orders/A-10001", key, 403),
        ("/v1/products/SKU-404", key, 404),
        ("/v1/products?limit=0", key, 422),
    ]:
        r = await api.get(path, headers={**headers, "X-Request-ID": sane})
        assert (r.status_code, r.headers["x-request-id"]) == (status, sane), path
    for malformed in ["x" * 129, "two words", 'quo"te', "semi;colon", ""]:
        r = await api.get("/healthz", headers={"X-Request-ID": malformed})
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"]), malformed


async def test_missing_unknown_and_malformed_keys_get_401_json(
    api: httpx.AsyncClient, shops: tuple[Shop, Shop]
) -> None:
    for headers, code in [
        ({}, "missing_key"),
        ({"X-Hub-Key": "nope"}, "invalid_key"),
        ({"X-Hub-Key": shops[0].storefront_key + "x"}, "invalid_key"),
    ]:
        r = await api.get("/v1/products", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"]["code"] == code


async def test_revoked_key_stops_working(
    api: httpx.AsyncClient, shops: tuple[Shop, Shop], session: AsyncSession
) -> None:
    key = shops[0].storefront_key
    assert (await api.get("/v1/products", headers={"X-Hub-Key": key})).status_code == 200
    await admin.revoke_key(session, key)
    await session.commit()
    r = await api.get("/v1/products", headers={"X-Hub-Key": key})
    assert r.status_code == 401 and r.json()["error"]["message"] == "unknown or revoked API key"


async def test_storefront_key_sees_only_its_own_catalog(api: httpx.AsyncClient, shops: tuple[Shop, Shop]) -> None:
    alpha, _ = shops
    mine = await api.get(f"/v1/products/{alpha.sku}", headers={"X-Hub-Key": alpha.storefront_key})
    assert mine.status_code == 200 and mine.json()["price"] == "10.00"
    listing = (await api.get("/v1/products", headers={"X-Hub-Key": alpha.storefront_key})).json()
    assert listing["total"] == 1 and [p["title"] for p in listing["items"]] == ["alpha tee"]
    missing = await api.get("/v1/products/SKU-404", headers={"X-Hub-Key": alpha.storefront_key})
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Unknown SKU 'SKU-404'"


async def test_key_of_one_tenant_never_returns_anothers_order(api: httpx.AsyncClient, shops: tuple[Shop, Shop]) -> None:
    alpha, bravo = shops
    r = await api.get(f"/v1/orders/{bravo.order_number}", headers={"X-Hub-Key": alpha.operator_key})
    assert r.status_code == 200 and r.json()["customer_email"] == "jane@alpha.example.com"
    assert "bravo" not in r.text
    assert (await api.get("/v1/orders/B-1", headers={"X-Hub-Key": alpha.operator_key})).status_code == 404


async def test_storefront_key_cannot_reach_operator_endpoints(api: httpx.AsyncClient, shops: tuple[Shop, Shop]) -> None:
    alpha, _ = shops
    r = await api.get(f"/v1/orders/{alpha.order_number}", headers={"X-Hub-Key": alpha.storefront_key})
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_key_role"
    r = await api.patch("/v1/tenant", json={"settings": {}}, headers={"X-Hub-Key": alpha.operator_key})
    assert r.status_code == 403


async def test_admin_changes_settings_with_validation_and_audit(
    api: httpx.AsyncClient, shops: tuple[Shop, Shop], session: AsyncSession
) -> None:
    alpha, bravo = shops
    headers = {"X-Hub-Key": alpha.admin_key}
    ok = await api.patch("/v1/tenant", json={"settings": {"brand": {"tone": "playful"}}}, headers=headers)
    assert ok.status_code == 200 and ok.json()["settings"]["brand"]["tone"] == "playful"
    bad = await api.patch("/v1/tenant", json={"settings": {"brand": {"primary_colour": "red"}}}, headers=headers)
    assert bad.status_code == 422 and "settings.brand.primary_colour" in bad.json()["error"]["message"]
    typo = await api.patch("/v1/tenant", json={"settings": {"budgetz": {}}}, headers=headers)
    assert typo.status_code == 422 and "budgetz" in typo.json()["error"]["message"]
    tenant = (await api.get("/v1/tenant", headers={"X-Hub-Key": bravo.operator_key})).json()
    assert tenant["slug"] == "bravo" and tenant["settings"]["brand"]["tone"] != "playful"
    actions = (
        await session.execute(select(m.AuditEvent.action).where(m.AuditEvent.tenant_id == alpha.tenant_id))
    ).scalars()
    assert list(actions).count("tenant.settings_changed") == 1


async def test_malformed_body_gets_a_4xx_and_changes_nothing(api: httpx.AsyncClient, shops: tuple[Shop, Shop]) -> None:
    headers = {"X-Hub-Key": shops[0].admin_key, "Content-Type": "application/json"}
    before = (await api.get("/v1/tenant", headers=headers)).json()
    for body in [b"{not json", b"[]", b'{"settings": 3}', b""]:
        r = await api.patch("/v1/tenant", content=body, headers=headers)
        assert r.status_code in (400, 422), body
        assert r.json()["error"]["message"]
    assert (await api.get("/v1/tenant", headers=headers)).json() == before


async def test_bad_query_parameters_get_422(api: httpx.AsyncClient, shops: tuple[Shop, Shop]) -> None:
    r = await api.get("/v1/products?limit=0", headers={"X-Hub-Key": shops[0].storefront_key})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("query.limit")


async def test_integers_past_a_parameters_bounds_get_422_naming_it_not_a_500(
    api: httpx.AsyncClient, shops: tuple[Shop, Shop]
) -> None:
    key = {"X-Hub-Key": shops[0].admin_key}
    huge = 2**63  # one past the databases' 64-bit integers: it overflowed the driver
    for method, path, field in [
        ("GET", f"/v1/products?offset={huge}", "query.offset"),
        ("GET", f"/v1/products?limit={huge}", "query.limit"),
        ("GET", "/v1/products?offset=-1", "query.offset"),
        ("POST", f"/v1/images/jobs/{uuid.uuid4()}/images/{huge}/approve", "path.number"),
        ("POST", f"/v1/images/jobs/{uuid.uuid4()}/images/0/reject", "path.number"),
    ]:
        r = await api.request(method, path, headers=key)
        assert r.status_code == 422 and r.json()["error"]["message"].startswith(field), (path, r.text)
    deepest = await api.get("/v1/products?offset=1000000", headers=key)
    assert deepest.status_code == 200 and deepest.json() == {"items": [], "total": 1}


async def test_pinning_an_unreleased_prompt_version_is_refused(
    api: httpx.AsyncClient, shops: tuple[Shop, Shop]
) -> None:
    headers = {"X-Hub-Key": shops[0].admin_key}
    bad = await api.patch(
        "/v1/tenant", json={"settings": {"prompt_pins": {"customer_reply": "9.9.9"}}}, headers=headers
    )
    assert bad.status_code == 422 and "9.9.9" in bad.json()["error"]["message"]
    other_kind = await api.patch(
        "/v1/tenant", json={"settings": {"prompt_pins": {"customer_reply": "1.0.0"}}}, headers=headers
    )
    assert other_kind.status_code == 422 and "expecting plain text and tool calls" in other_kind.text
    pins = {"prompt_pins": {"customer_reply": "2.0.0"}}
    unevaluated = await api.patch("/v1/tenant", json={"settings": pins}, headers=headers)
    assert unevaluated.status_code == 409, "released, but never evaluated for this shop"
    ok = await api.patch("/v1/tenant", json={"settings": pins, "force_pins": "the default version"}, headers=headers)
    assert ok.status_code == 200 and ok.json()["settings"]["prompt_pins"] == {"customer_reply": "2.0.0"}
