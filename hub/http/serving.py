"""Serve an app under uvicorn until SIGTERM, SIGINT or SIGHUP, then return so the caller can clean up."""

from __future__ import annotations

import signal
import threading
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import structlog
import uvicorn

log = structlog.get_logger(__name__)

SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""A service manager's stop, Ctrl-C, and a closed terminal all shut down gracefully."""


class ServerStartFailed(RuntimeError):
    """The app's startup failed (its lifespan raised); uvicorn has logged why."""


class _Server(uvicorn.Server):
    """uvicorn's server, minus re-raising the caught signal after a graceful shutdown.

    uvicorn re-raises it so the process dies "as expected"; for SIGTERM that kills the process before the
    code after `run()` can stop what the app depends on (the embedded Redis), leaving it orphaned.
    """

    @contextmanager
    def capture_signals(self) -> Generator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in SHUTDOWN_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)
        if self._captured_signals:
            log.info("server_stopped", signal=signal.Signals(self._captured_signals[0]).name)


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


@contextmanager
def stop_on_signals() -> Generator[None]:
    """Turn SIGTERM and SIGHUP into KeyboardInterrupt (as Ctrl-C is) while the block runs, so a stop that
    arrives before or after the server itself runs (migrating, seeding, starting Redis) still unwinds the
    block's context managers instead of killing the process."""
    original = {sig: signal.signal(sig, _interrupt) for sig in SHUTDOWN_SIGNALS if sig != signal.SIGINT}
    try:
        yield
    finally:
        for sig, handler in original.items():
            signal.signal(sig, handler)


def serve_app(app: Any, *, host: str, port: int) -> None:
    """Serve `app` until a shutdown signal; return after its graceful shutdown.

    Raises `ServerStartFailed` when the app's startup failed; a port that is taken exits as uvicorn does.
    """
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        # Client addresses come from the socket: the chat API's rate limits read X-Forwarded-For themselves,
        # and only from the proxies HUB_TRUSTED_PROXIES names.
        proxy_headers=False,
    )
    server = _Server(config)
    server.run()
    if not server.started:
        raise ServerStartFailed("the app did not start; see the log above")
