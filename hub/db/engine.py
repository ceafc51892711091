"""Create async engines and sessions for SQLite (embedded) and Postgres (production)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, PoolResetState

from hub.db.sqlite_onehop import one_hop

if TYPE_CHECKING:
    import aiosqlite
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

PING_AFTER_IDLE_S = 5.0
"""A pooled Postgres connection idle longer than this is pinged before it is handed out."""
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}


def async_url(url: str) -> URL:
    """Return the URL with an async driver, e.g. `postgresql://` → `postgresql+asyncpg://`."""
    parsed = make_url(url)
    if parsed.drivername in ASYNC_DRIVERS:
        parsed = parsed.set(drivername=ASYNC_DRIVERS[parsed.drivername])
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql")
    return parsed


SQLITE_CACHE_KIB = 32 * 1024
"""Page cache per SQLite connection, in KiB."""


def create_engine(url: str) -> AsyncEngine:
    """Build an async engine; SQLite gets its directory created, foreign keys and WAL."""
    parsed = async_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # The pool's own reset on return would roll back every connection that comes back, even after a commit:
        # one more hop to aiosqlite's thread per transaction. Roll back only a connection still in a transaction.
        engine = create_async_engine(parsed, connect_args={"timeout": 30}, pool_reset_on_return=None)

        @event.listens_for(engine.sync_engine, "reset")
        def _rollback_if_open(dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry, state: PoolResetState) -> None:
            # A live aiosqlite connection is being reset (terminate_only means it is being thrown away).
            if not state.terminate_only and cast("aiosqlite.Connection", record.driver_connection).in_transaction:
                dbapi_conn.rollback()

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            one_hop(dbapi_conn)
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL with synchronous=NORMAL survives a process crash; only power loss can drop the last commits.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            # SQLite's default page cache is 2 MiB; a search reads the index and the rows of thousands of products.
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            cursor.close()

        return engine
    engine = create_async_engine(parsed)
    _ping_after_idle(engine)
    return engine


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Ping a pooled Postgres connection at checkout only when it sat idle longer than `PING_AFTER_IDLE_S`.

    SQLAlchemy's `pool_pre_ping` pings at every checkout: a round trip before every short session, and a turn or a
    WhatsApp message opens several. A connection used a moment ago is alive; one that idled may have been dropped
    (a database restart, a proxy's idle timeout), and a failed ping makes the pool reconnect, as `pool_pre_ping`
    would.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _idle_since(_dbapi_conn: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping_if_idle(
        dbapi_conn: AsyncAdapt_asyncpg_connection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
    ) -> None:  # Postgres engines here run on asyncpg (ASYNC_DRIVERS), whose adapted connection can ping
        idle_since: float | None = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_S:
            return
        try:
            dbapi_conn.ping()
        except Exception as exc:
            raise DisconnectionError(f"pooled connection failed its ping after idling: {exc}") from exc


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
