"""Compose the full service: the core app from `hub` plus every chat surface."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from agents.engine import DeterministicEngine
from chat_ui import api, console, pages, whatsapp, widget
from graphs.checkpoint import open_checkpointer
from graphs.conversation import build_graph
from graphs.turns import Conversations, TurnDeadlines
from hub.audit.store import TraceStore
from hub.http.app import create_app as create_core_app
from hub.settings import Settings


def create_app(settings: Settings, *, in_process_workers: bool = False) -> FastAPI:
    """The app `hub serve` runs: core routes and resources, the chat API, the operator console at /console,
    one conversation graph per process."""
    app = create_core_app(settings, in_process_workers=in_process_workers)
    core_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with core_lifespan(app):
            res = app.state.resources
            traces = TraceStore(settings.otlp_endpoint)
            async with open_checkpointer(settings.resolved_database_url, settings.data_dir) as saver:
                app.state.conversations = Conversations(
                    build_graph(saver),
                    res.gateway,
                    DeterministicEngine(),
                    res.sessions,
                    jobs=res.jobs,
                    traces=traces,
                    deadlines=TurnDeadlines.from_settings(settings),
                )
                console.STATE.current = console.ConsoleState(
                    settings, res.sessions, res.redis, res.jobs, app.state.conversations, res.gateway.prompts
                )
                try:
                    yield
                finally:
                    await console.close()
                    traces.close()

    app.router.lifespan_context = lifespan
    app.include_router(api.router)
    app.include_router(widget.router)
    widget.install(app, settings)
    whatsapp.install(app)
    app.include_router(pages.router)
    console.mount(app, settings)
    return app
