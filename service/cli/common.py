"""Helpers every `hub` subcommand shares: settings, errors, a migrated database session.

`hub --help` builds every command's signature, so the CLI modules import only typer and cheap option types at
the top; what a command needs to run (settings, SQLAlchemy, Redis, rich, the gateway) it imports in its body.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from hub.settings import Settings

T = TypeVar("T")


class _Verbosity:
    verbose = False
    """`hub -v …`: commands log at INFO instead of WARNING (set by the root command's callback)."""


VERBOSITY = _Verbosity()


def load_settings(*, service: bool = False) -> Settings:
    """Read settings once and configure logs; a bad variable stops the command with one line naming it.

    A long-running `service` (serve, worker) logs at INFO; any other command logs only warnings, so its
    tables and JSON on stdout read cleanly (`hub -v` or HUB_LOG_LEVEL for more). Logs are readable lines
    on a terminal and JSON otherwise, unless HUB_LOG_FORMAT says which.
    """
    from pydantic import ValidationError

    from hub.logs import configure_logging
    from hub.settings import LogFormat, describe_validation_error, get_settings

    try:
        settings = get_settings()
    except ValidationError as exc:
        typer.echo(f"error: {describe_validation_error(exc)}", err=True)
        raise typer.Exit(2) from None
    level = settings.log_level or ("INFO" if service or VERBOSITY.verbose else "WARNING")
    fmt = settings.log_format or (LogFormat.CONSOLE if sys.stderr.isatty() else LogFormat.JSON)
    configure_logging(level, fmt)
    return settings


def cli_actor() -> str:
    """Who runs this command, as the audit names them: `cli:<login>`."""
    return f"cli:{os.environ.get('USER') or os.environ.get('LOGNAME') or 'unknown'}"


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def migrate_database(settings: Settings) -> None:
    from hub.db.engine import create_engine
    from hub.db.migrate import upgrade

    async def main() -> None:
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(main())


def with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed transaction on a migrated database."""
    from hub.db.engine import create_engine, session_factory
    from hub.db.migrate import upgrade
    from hub.tenancy import admin

    async def main() -> T:
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade(engine)
            async with session_factory(engine)() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except admin.TenancyError as exc:
        raise fail(str(exc)) from None
