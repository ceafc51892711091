"""Build the one FastAPI app: lifespan resources, middleware, error handlers, routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.types import ASGIApp

from hub.db.engine import create_engine, session_factory
from hub.gateway.factory import build_gateway
from hub.http import security
from hub.http.deps import Resources
from hub.http.errors import install_error_handlers
from hub.http.middleware import REQUEST_ID_PATTERN, RequestContextMiddleware
from hub.http.routes import audit, catalog, health, images, tenant
from hub.jobs import JobQueue
from hub.redis_conn import create_redis
from hub.settings import Settings
from hub.tenancy.key_usage import KeyUsage
from hub.workers import WorkerKind, run_worker

log = structlog.get_logger(__name__)


def _around_everything(app: FastAPI) -> None:
    """Run the request context around the app's whole stack, Starlette's own 500 handler and every middleware
    included (`app.add_middleware` would put it inside those, and inside any added later, such as CORS), so every
    answer carries an X-Request-ID. The app's class comes from fastapi-offline's factory, so the stack builder is
    wrapped on the instance."""
    build = app.build_middleware_stack

    def build_with_context() -> ASGIApp:
        return RequestContextMiddleware(build())

    app.build_middleware_stack = build_with_context  # type: ignore[method-assign]


def _document_request_id(app: FastAPI) -> None:
    """Generate the OpenAPI schema as FastAPI does, from the routes' own models, with the `X-Request-ID` header on
    every response."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {}).setdefault("headers", {})["X-Request-ID"] = _REQUEST_ID_HEADER
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for response in operation.get("responses", {}).values():
                        response.setdefault("headers", {})["X-Request-ID"] = {
                            "$ref": "#/components/headers/X-Request-ID"
                        }
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


_REQUEST_ID_HEADER = {
    "description": "This request's id, in HUB's logs and audit trail: the client's own when it sent a sane one "
    f"(`{REQUEST_ID_PATTERN.strip('^$')}`), else a fresh one.",
    "required": True,
    "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN},
}


def create_app(settings: Settings, *, in_process_workers: bool = False) -> FastAPI:
    """Return the app; it opens the database and Redis on startup and closes them on shutdown.

    With `in_process_workers` it also runs every worker kind as tasks of this process, for tests that want one
    process; `hub serve` runs its workers in a child process instead (`hub.worker_process`), so job work never
    holds up the server's event loop.
    """
    if not settings.redis_url:
        raise ValueError("create_app needs settings.redis_url; `hub serve` fills it with the embedded Redis")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stack = AsyncExitStack()
        engine = create_engine(settings.resolved_database_url)
        redis = create_redis(settings.redis_url)
        sessions = session_factory(engine)
        gateway = build_gateway(settings, sessions, redis)
        jobs = await stack.enter_async_context(JobQueue(settings))
        key_usage = KeyUsage(sessions)
        key_writer = asyncio.create_task(key_usage.run(), name="key-usage")
        app.state.resources = Resources(
            settings=settings, sessions=sessions, redis=redis, gateway=gateway, jobs=jobs, key_usage=key_usage
        )
        log.info(
            "app_started",
            env=settings.env,
            database=engine.url.get_backend_name(),
            llm=gateway.config.provider,
        )
        stop = asyncio.Event()
        workers = (
            [asyncio.create_task(run_worker(kind, settings, stop=stop, handle_signals=False)) for kind in WorkerKind]
            if in_process_workers
            else []
        )
        try:
            yield
        finally:
            stop.set()
            key_writer.cancel()
            await asyncio.gather(*workers, key_writer, return_exceptions=True)
            await stack.aclose()
            await gateway.aclose()
            await redis.aclose()
            await engine.dispose()

    # The API docs' Swagger UI and ReDoc files are served by HUB itself (fastapi-offline), not fetched from a CDN:
    # /docs works on a machine with no internet.
    app = FastAPIOffline(title="HUB", version="0.1.0", lifespan=lifespan)
    _around_everything(app)
    _document_request_id(app)
    security.install(app, settings)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(catalog.router)
    app.include_router(tenant.router)
    app.include_router(images.router)
    app.include_router(audit.router)
    return app
