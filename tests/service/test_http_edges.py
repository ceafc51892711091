"""The HTTP app at its edges: unexpected failures, request ids everywhere, body limits, and an OpenAPI schema that
says what the app does (every error an operation gives, every bound it checks, every method a path takes)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from chat_ui.whatsapp.webhook import MAX_BODY as WEBHOOK_MAX_BODY
from hub.db import models as m
from hub.http.limits import MAX_JSON_BODY
from hub.settings import Settings
from service.app import create_app
from tests.conftest import Shop
from tests.service.test_whatsapp import load


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    """What is checked here happens before any query: the embedded database is enough (bounds: test_api, both)."""
    return sqlite_url


@pytest.fixture
def app(app_settings: Settings) -> FastAPI:
    """The full app, plus one route that fails the way a bug would."""
    app = create_app(app_settings)

    async def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/test/broken", broken, include_in_schema=False)
    return app


@pytest.fixture
async def hub(app: FastAPI, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        # The transport re-raises whatever the app lets escape, as a server would see it (and uvicorn then closes
        # the client's keep-alive connection): a request that returns at all did not let its failure out.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub.test") as client:
            yield client


@pytest.fixture
async def spec(hub: httpx.AsyncClient) -> dict[str, Any]:
    return (await hub.get("/openapi.json")).json()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


async def test_an_unexpected_failure_is_a_500_envelope_with_the_request_id_and_the_app_does_not_raise(
    hub: httpx.AsyncClient,
) -> None:
    r = await hub.get("/test/broken", headers={"X-Request-ID": "support-ticket-42"})
    assert r.status_code == 500 and r.headers["x-request-id"] == "support-ticket-42"
    assert r.json() == {
        "error": {"code": "internal_error", "message": "internal error; the request id is in X-Request-ID"}
    }
    assert (await hub.get("/healthz")).status_code == 200


async def test_a_cors_preflight_answered_before_any_route_carries_a_request_id(hub: httpx.AsyncClient) -> None:
    preflight = await hub.options(
        "/v1/chat",
        headers={"Origin": "https://unknown.example", "Access-Control-Request-Method": "POST", "X-Request-ID": "pf-1"},
    )
    assert preflight.status_code == 403 and preflight.headers["x-request-id"] == "pf-1"
    assert preflight.json()["error"]["code"] == "cors_refused"


async def test_a_chat_body_over_the_limit_is_refused_with_413_as_it_arrives_and_nothing_is_stored(
    hub: httpx.AsyncClient, shops: tuple[Shop, Shop], session: AsyncSession
) -> None:
    key = {"X-Hub-Key": shops[0].storefront_key, "Content-Type": "application/json"}
    huge = json.dumps({"session_id": "s1", "message": "hi", "junk": "x" * 10_000_000}).encode()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit counts what arrives
        for start in range(0, len(huge), 65_536):
            yield huge[start : start + 65_536]

    for body in (huge, chunks()):
        r = await hub.post("/v1/chat", content=body, headers=key)
        assert r.status_code == 413 and r.headers["content-type"] == "application/json", r.text
        assert r.json()["error"] == {
            "code": "body_too_large",
            "message": f"the request body is larger than this endpoint accepts ({MAX_JSON_BODY:,} bytes)",
        }
        assert r.headers["x-request-id"]
    assert (await session.execute(select(func.count()).select_from(m.Message))).scalar_one() == 0


async def test_an_unknown_field_is_refused_by_operator_apis_and_ignored_by_the_shoppers_chat(
    hub: httpx.AsyncClient, shops: tuple[Shop, Shop]
) -> None:
    key = {"X-Hub-Key": shops[0].storefront_key}
    newer = await hub.post("/v1/chat", json={"session_id": "s1", "message": "hi", "widget": "2.0"}, headers=key)
    assert newer.status_code == 200, newer.text
    typo = await hub.post("/v1/chat", json={"session_id": "s1", "mesage": "typo"}, headers=key)
    assert typo.status_code == 422 and typo.json()["error"]["message"].startswith("message: ")
    job = await hub.post(
        "/v1/images/jobs",
        json={"sku": shops[0].sku, "brief": {"scene": "on oak", "background": "white", "cout": 2}},
        headers={"X-Hub-Key": shops[0].operator_key},
    )
    assert job.status_code == 422 and "brief.cout" in job.json()["error"]["message"]


def meta_batch(updates: int, *, indent: int | None) -> bytes:
    """One webhook POST batching `updates` changes of Meta's shapes (messages and statuses), as Meta may send."""
    shapes = [load(name)["entry"][0]["changes"][0] for name in ("text_message", "status_failed", "image_message")]
    changes = [shapes[n % len(shapes)] for n in range(updates)]
    body = {"object": "whatsapp_business_account", "entry": [{"id": "1234567890987654321", "changes": changes}]}
    return json.dumps(body, indent=indent).encode()


async def test_the_webhook_takes_a_batch_of_1000_updates_and_refuses_a_bigger_body_before_checking_it(
    hub: httpx.AsyncClient,
) -> None:
    signed = {"X-Hub-Signature-256": "sha256=" + "0" * 64, "Content-Type": "application/json"}
    for indent in (None, 2):
        batch = meta_batch(1000, indent=indent)
        assert len(batch) < WEBHOOK_MAX_BODY
        r = await hub.post("/webhooks/whatsapp", content=batch, headers=signed)
        assert r.status_code == 403 and r.json()["error"]["code"] == "invalid_signature"  # read, then refused
    flood = await hub.post("/webhooks/whatsapp", content=b"[" + b"0," * WEBHOOK_MAX_BODY + b"0]", headers=signed)
    assert flood.status_code == 413 and flood.json()["error"]["code"] == "body_too_large"


async def test_options_on_a_path_answers_405_allowing_every_method_the_path_takes(hub: httpx.AsyncClient) -> None:
    for path, allowed in [("/webhooks/whatsapp", "GET, POST"), ("/v1/tenant", "GET, PATCH"), ("/v1/chat", "POST")]:
        r = await hub.options(path)
        assert (r.status_code, r.headers["allow"]) == (405, allowed), path
        assert r.json()["error"]["code"] == "method_not_allowed"


async def test_openapi_documents_each_operations_errors_with_the_error_envelope(spec: dict[str, Any]) -> None:
    envelope = {"$ref": "#/components/schemas/ErrorBody"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for name, operation in operations(spec):
        responses = operation["responses"]
        errors = {status for status in responses if status.startswith("4")}
        for status in errors:
            assert responses[status]["content"]["application/json"]["schema"] == envelope, (name, status)
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= errors, name
        if operation.get("security"):
            assert {"401", "429"} <= errors, name
        for status, response in responses.items():
            assert response["headers"]["X-Request-ID"] == {"$ref": "#/components/headers/X-Request-ID"}, (name, status)


async def test_openapi_bounds_every_integer_parameter_and_each_bound_is_the_one_enforced(
    hub: httpx.AsyncClient, spec: dict[str, Any], shops: tuple[Shop, Shop]
) -> None:
    for name, operation in operations(spec):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            if schema.get("type") == "integer":
                assert {"minimum", "maximum"} <= set(schema), (name, parameter["name"])
    count = spec["components"]["schemas"]["BriefIn"]["properties"]["count"]
    operator = {"X-Hub-Key": shops[0].operator_key}
    for shots, status, says in [
        (count["maximum"], 404, "Unknown SKU"),  # the count passes; the made-up SKU does not
        (count["maximum"] + 1, 422, "brief.count"),
    ]:
        brief = {"scene": "on oak", "background": "white", "count": shots}
        r = await hub.post(
            "/v1/images/jobs", json={"sku": f"NOPE-{uuid.uuid4().hex[:6]}", "brief": brief}, headers=operator
        )
        assert r.status_code == status and says in r.json()["error"]["message"], r.text
