"""The core of the one FastAPI app: request context, security layers, error handlers and the core routes."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI
from starlette.types import ASGIApp

from hub.http import security
from hub.http.errors import install_error_handlers
from hub.http.middleware import REQUEST_ID_PATTERN, RequestContextMiddleware
from hub.http.routes import audit, catalog, catalog_import, health, images, knowledge, orders, shopify, sync, tenant
from hub.settings import Settings

log = structlog.get_logger(__name__)


def _around_everything(app: FastAPI) -> None:
    """Run the request context around the app's whole stack, Starlette's own 500 handler and every middleware
    included (`app.add_middleware` would put it inside those, and inside any added later, such as CORS), so every
    answer carries an X-Request-ID. The app's class comes from fastapi-offline's factory, so the stack builder is
    wrapped on the instance."""
    build = app.build_middleware_stack

    def build_with_context() -> ASGIApp:
        return RequestContextMiddleware(build())

    app.build_middleware_stack = build_with_context


def _document_request_id(app: FastAPI) -> None:
    """Generate the OpenAPI schema as FastAPI does, from the routes' own models, with the `X-Request-ID` header on
    every response."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()  # FastAPI keeps it as `app.openapi_schema`: this runs once
        schema.setdefault("components", {}).setdefault("headers", {})["X-Request-ID"] = _REQUEST_ID_HEADER
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for response in operation.get("responses", {}).values():
                    response.setdefault("headers", {})["X-Request-ID"] = {"$ref": "#/components/headers/X-Request-ID"}
        return schema

    app.openapi = openapi


_REQUEST_ID_HEADER = {
    "description": "This request's id, in HUB's logs and audit trail: the client's own when it sent a sane one "
    f"(`{REQUEST_ID_PATTERN.strip('^$')}`), else a fresh one.",
    "required": True,
    "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
}


def install_core(app: FastAPI, settings: Settings) -> None:
    """Add the core to `app`: the request context around everything, the documented request id, the security
    layers, the error envelope and the core routes (health, catalog, catalog import, catalog sync, Shopify's
    webhooks, tenant, orders and their requests, images, audit). The service's app factory (`service.app`) builds the app and adds the chat
    surfaces after these."""
    _around_everything(app)
    _document_request_id(app)
    security.install(app, settings)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(sync.router)  # ahead of the catalog's `/v1/products/{sku}`: `/v1/products/bulk` is its own
    app.include_router(catalog.router)
    app.include_router(catalog_import.router)
    app.include_router(shopify.router)
    app.include_router(knowledge.router)
    app.include_router(tenant.router)
    app.include_router(orders.router)
    app.include_router(images.router)
    app.include_router(audit.router)
