"""Open what any HUB process runs on, once: the API server, a `hub worker`, `hub serve`'s worker process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio

from graphs.process import CONVERSATIONS, ProcessConversations
from hub.jobs import JobQueue, JobResources, open_job_resources
from hub.settings import Settings


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[JobResources]:
    """Open the database engine, the Redis client and a producer of every queue; the model gateway and the
    conversation graph (`resources.extra[CONVERSATIONS]`) open the first time something asks for them.

    Everything closes in reverse order when the block ends, even inside a cancelled scope (a worker stops by
    cancelling its lifespan).
    """
    if not settings.redis_url:
        raise ValueError("a HUB process needs settings.redis_url; `hub serve` fills it with the embedded Redis")
    stack = AsyncExitStack()
    resources = open_job_resources(settings)
    stack.push_async_callback(resources.aclose)
    try:
        resources.jobs = await stack.enter_async_context(JobQueue(settings))
        conversations = ProcessConversations(resources, resources.jobs)
        stack.push_async_callback(conversations.aclose)
        resources.extra[CONVERSATIONS] = conversations
        yield resources
    finally:
        with anyio.CancelScope(shield=True):
            await stack.aclose()
