"""Open the conversation checkpointer: SQLite in the embedded default, Postgres in production."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from sqlalchemy.engine import make_url

from hub.audit.retention import ConversationKey, ForgetConversations
from hub.db.models import Channel

CHECKPOINT_FILE = "checkpoints.db"


def thread_id(tenant_id: object, channel: Channel, customer_ref: str) -> str:
    """One checkpoint thread per (tenant, channel, customer): a conversation never crosses tenants."""
    return f"{tenant_id}:{channel}:{customer_ref}"


@asynccontextmanager
async def open_checkpointer(database_url: str, data_dir: Path) -> AsyncIterator[BaseCheckpointSaver]:
    """Yield a ready checkpointer on the same database family the service uses."""
    url = make_url(database_url)
    if url.get_backend_name() == "postgresql":
        # LangGraph's saver speaks psycopg 3, which takes a plain libpq URL.
        conn_string = url.set(drivername="postgresql").render_as_string(hide_password=False)
        async with AsyncPostgresSaver.from_conn_string(conn_string) as saver:
            await saver.setup()
            yield saver
        return
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(data_dir / CHECKPOINT_FILE)) as saver:
        await saver.setup()  # switches the file to WAL
        # As for the service's own SQLite database (`hub.db.engine`): WAL with synchronous=NORMAL survives a process
        # crash, and a turn's checkpoint no longer waits on an fsync at every commit (FULL's default).
        await saver.conn.execute("PRAGMA synchronous=NORMAL")
        yield saver


async def forget_threads(saver: BaseCheckpointSaver, thread_ids: Sequence[str]) -> int:
    """Delete every checkpoint and pending write of these threads; return how many threads were asked for."""
    for tid in thread_ids:
        await saver.adelete_thread(tid)
    return len(thread_ids)


async def forget_conversations(
    database_url: str, data_dir: Path, conversations: Sequence[tuple[uuid.UUID, Channel, str]]
) -> int:
    """Delete the graph memory of these (tenant, channel, external ref) conversations, e.g. after a retention purge."""
    if not conversations:
        return 0
    async with open_checkpointer(database_url, data_dir) as saver:
        return await forget_threads(saver, [thread_id(*key) for key in conversations])


def checkpoint_forgetter(database_url: str, data_dir: Path) -> ForgetConversations:
    """The retention purge's hook (`hub.audit.retention`): forget conversations in this database's checkpointer."""

    async def forget(conversations: Sequence[ConversationKey]) -> int:
        # the purge reads the channel from its rows as a plain string; the thread id is named by the Channel value
        keys = [(tenant_id, Channel(channel), ref) for tenant_id, channel, ref in conversations]
        return await forget_conversations(database_url, data_dir, keys)

    return forget
