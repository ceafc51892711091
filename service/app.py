"""The one FastAPI app `hub serve` runs: the core routes and every chat surface, on one process's resources."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from chat_ui import api, console, pages, whatsapp, widget
from evals.cases import golden_hashes
from graphs.process import CONVERSATIONS
from hub.http.app import install_core
from hub.http.deps import Resources
from hub.settings import Settings
from hub.tenancy.key_usage import KeyUsage
from hub.workers import WorkerKind, run_worker
from service.resources import open_resources

log = structlog.get_logger(__name__)


def create_app(settings: Settings, *, in_process_workers: bool = False) -> FastAPI:
    """Return the app; its lifespan opens the process's resources (`open_resources`) and builds the conversation
    graph at start, and closes them on shutdown.

    With `in_process_workers` it also runs every worker kind as tasks of this process, for tests that want one
    process; `hub serve` runs its workers in a child process instead (`service.worker_process`), so job work never
    holds up the server's event loop.
    """
    if not settings.redis_url:
        raise ValueError("create_app needs settings.redis_url; `hub serve` fills it with the embedded Redis")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings) as res:
            assert res.jobs is not None
            key_usage = KeyUsage(res.sessions)
            key_writer = asyncio.create_task(key_usage.run(), name="key-usage")
            gateway = res.gateway
            app.state.resources = Resources(
                settings=settings,
                sessions=res.sessions,
                redis=res.redis,
                gateway=gateway,
                jobs=res.jobs,
                key_usage=key_usage,
            )
            app.state.conversations = await res.extra[CONVERSATIONS].get()
            console.STATE.current = console.ConsoleState(
                settings, res.sessions, res.redis, res.jobs, app.state.conversations, gateway.prompts, golden_hashes
            )
            log.info(
                "app_started", env=settings.env, database=res.engine.url.get_backend_name(), llm=gateway.config.provider
            )
            stop = asyncio.Event()
            workers = (
                [asyncio.create_task(w) for w in _in_process_workers(settings, stop)] if in_process_workers else []
            )
            try:
                yield
            finally:
                stop.set()
                key_writer.cancel()
                await asyncio.gather(*workers, key_writer, return_exceptions=True)
                await console.close()

    # The API docs' Swagger UI and ReDoc files are served by HUB itself (fastapi-offline), not fetched from a CDN:
    # /docs works on a machine with no internet.
    app = FastAPIOffline(title="HUB", version="0.1.0", lifespan=lifespan)
    install_core(app, settings)
    app.include_router(api.router)
    app.include_router(widget.router)
    widget.install(app, settings)
    whatsapp.install(app)
    app.include_router(pages.router)
    console.mount(app, settings)
    return app


def _in_process_workers(settings: Settings, stop: asyncio.Event) -> list:
    from service.workers import consumers  # the task code: imported only where workers run

    return [
        run_worker(kind, settings, stop=stop, handle_signals=False, consumers=consumers(kind)) for kind in WorkerKind
    ]
