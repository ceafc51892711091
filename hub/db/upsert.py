"""`INSERT … ON CONFLICT` on the two databases HUB runs on: SQLite (embedded) and Postgres."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def upsert_insert(session: AsyncSession, target: Any) -> Any:
    """An `insert(target)` of the session's dialect, which has `on_conflict_do_nothing` and `on_conflict_do_update`."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(target)
