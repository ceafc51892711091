"""Compose the full service: the core app from `hub` plus every chat surface."""

from __future__ import annotations

from fastapi import FastAPI

from agents.engine import DeterministicEngine
from chat_ui import api
from hub.http.app import create_app as create_core_app
from hub.settings import Settings


def create_app(settings: Settings, *, in_process_workers: bool = False) -> FastAPI:
    """The app `hub serve` runs: core routes, the chat API, and one deterministic engine per process."""
    app = create_core_app(settings, in_process_workers=in_process_workers)
    app.state.engine = DeterministicEngine()
    app.include_router(api.router)
    return app
