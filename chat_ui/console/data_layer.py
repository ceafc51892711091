"""Keep the console's threads in the app's own database, through Chainlit's SQLAlchemy data layer.

Chainlit builds its data layer once per process, but the database belongs to the running app (and a test
process runs many apps, one database each), so this layer borrows the app's session factory from the
console's `STATE` on every call instead of opening an engine of its own. The tables are in `hub.db.models`.
"""

from __future__ import annotations

from typing import Any

from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from sqlalchemy.ext.asyncio import AsyncEngine

from chat_ui.console import state


class ConsoleDataLayer(SQLAlchemyDataLayer):
    def __init__(self) -> None:  # the parent would open its own engine
        self.user_thread_limit = 1000
        self.show_logger = False
        self.storage_provider = None
        """Chart images are not kept: a resumed thread shows each answer's text and steps, not its chart."""

    @property
    def async_session(self) -> Any:
        return state().sessions

    @property
    def engine(self) -> AsyncEngine:
        return state().sessions.kw["bind"]

    async def close(self) -> None:
        """The app owns the engine and disposes of it."""
