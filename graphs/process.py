"""A process's one conversation graph: built on first use from the process's resources, kept until it stops.

The API process builds it at start (its first shopper should not wait for a checkpointer); a worker builds it on
its first turn, so a worker that never sees a conversation never opens a checkpointer, and a worker's start never
races the API process's checkpointer setup on a fresh Postgres database (LangGraph's `setup()` is not safe to run
twice at once there: a loser of that race tries again).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import psycopg.errors
import structlog

from agents.engine import DeterministicEngine
from graphs.checkpoint import open_checkpointer
from graphs.conversation import build_graph
from graphs.turns import Conversations, TurnDeadlines
from hub.audit.store import TraceStore
from hub.jobs import JobQueue, JobResources

log = structlog.get_logger(__name__)

CONVERSATIONS = "conversations"
"""Where a process's `ProcessConversations` sits in its resources (`JobResources.extra`)."""
_SETUP_RACE = (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable, psycopg.errors.DuplicateObject)


class ProcessConversations:
    """The process's `Conversations` (graph, checkpointer, engine, traces), opened by the first `get()`."""

    SETUP_ATTEMPTS = 3

    def __init__(self, resources: JobResources, jobs: JobQueue) -> None:
        self.resources = resources
        self.jobs = jobs
        """Where the graph's tools start background work: the process's producer of every queue."""
        self._stack = AsyncExitStack()
        self._lock = asyncio.Lock()
        self._conversations: Conversations | None = None

    async def get(self) -> Conversations:
        async with self._lock:
            if self._conversations is None:
                self._conversations = await self._open()
        return self._conversations

    async def _open(self) -> Conversations:
        settings = self.resources.settings
        for attempt in range(1, self.SETUP_ATTEMPTS + 1):
            try:
                saver = await self._stack.enter_async_context(
                    open_checkpointer(settings.resolved_database_url, settings.data_dir)
                )
                break
            except _SETUP_RACE:
                if attempt == self.SETUP_ATTEMPTS:
                    raise
                log.info("checkpointer_setup_raced", attempt=attempt)
                await asyncio.sleep(0.2 * attempt)
        traces = TraceStore(settings.otlp_endpoint)
        self._stack.callback(traces.close)
        return Conversations(
            build_graph(saver),
            self.resources.gateway,
            DeterministicEngine(),
            self.resources.sessions,
            jobs=self.jobs,
            traces=traces,
            deadlines=TurnDeadlines.from_settings(settings),
        )

    async def aclose(self) -> None:
        await self._stack.aclose()
        self._conversations = None
