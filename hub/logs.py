"""Configure structured logs: one JSON object per line, carrying request and tenant ids."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

from hub.settings import LogFormat


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is when a record is emitted, not the stream it was when configured.

    A command run in-process (typer's CliRunner, a test's captured output) swaps stderr and closes its
    stand-in afterwards; a handler holding the stand-in would then fail on every later record.
    """

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:  # pyright: ignore[reportIncompatibleVariableOverride]  # a property in place of the attribute, see the docstring
        pass


def configure_logging(level: str = "INFO", fmt: LogFormat = LogFormat.JSON) -> None:
    """Route structlog and stdlib (uvicorn, alembic) records through one renderer on stderr."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if fmt is LogFormat.JSON else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # hub.db.migrate logs one line when it changes the schema; alembic's chatter repeats it.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Our middleware writes one access line per request with ids attached; uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every request it sends at INFO: a line per model call and per WhatsApp send, which HUB's own events
    # (usage rows, deliveries, traces) already record with ids attached. Its warnings and errors still show.
    for name in ("httpx", "httpx2"):
        logging.getLogger(name).setLevel(logging.WARNING)
