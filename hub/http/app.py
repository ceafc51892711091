"""Build the one FastAPI app: lifespan resources, middleware, error handlers, routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from hub.db.engine import create_engine, session_factory
from hub.gateway.factory import build_gateway
from hub.http import security
from hub.http.deps import Resources
from hub.http.errors import install_error_handlers
from hub.http.middleware import RequestContextMiddleware
from hub.http.routes import audit, catalog, health, images, tenant
from hub.jobs import JobQueue
from hub.redis_conn import create_redis
from hub.settings import Settings
from hub.tenancy.key_usage import KeyUsage
from hub.workers import WorkerKind, run_worker

log = structlog.get_logger(__name__)


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
    security.install(app, settings)
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(catalog.router)
    app.include_router(tenant.router)
    app.include_router(images.router)
    app.include_router(audit.router)
    return app
