"""Alembic environment: run on the connection handed in by hub.db.migrate, or on HUB settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

from hub.db.models import Base
from hub.db.search import include_name

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_settings() -> None:
    from hub.db.engine import create_engine
    from hub.settings import get_settings

    engine = create_engine(get_settings().resolved_database_url)
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run `hub db upgrade`")

connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_from_settings())
