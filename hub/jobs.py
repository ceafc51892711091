"""Background jobs on Redis streams (streaq): at-least-once, reclaimed when a worker dies, retried, dead-lettered.

A job is acknowledged only when its task returns; a worker that dies mid-job stops heartbeating and, after
`jobs_idle_timeout_s`, another worker claims the job and runs it again, so every task must be safe to rerun.
A task that raises is retried with exponential backoff up to `jobs_max_tries`; the last failure lands in the
dead-letter list with its reason. Tasks publish progress on a per-tenant channel the console listens to.

Two queues, so each kind of worker takes only its own work: `GENERAL` (bulk SEO, WhatsApp events; run by
`hub worker channels`) and `IMAGING` (photo shoots; run by `hub worker imaging` on GPU hosts). Packages above
`hub` register their tasks by import path (`QueueSpec.tasks`), the way workers find consumers, so `hub` never
imports them. Producers (`hub serve`) open the general `JobQueue`, which also opens a producer for every
linked queue (`jobs.on(IMAGING)`); enqueueing there needs no task code, only its name.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import anyio
import redis.asyncio as aioredis
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from streaq import StreaqRetry, Worker

from hub.constants import JOBS
from hub.db.engine import create_engine, session_factory
from hub.gateway.factory import build_gateway
from hub.gateway.gateway import Gateway
from hub.redis_conn import create_redis
from hub.settings import Settings

log = structlog.get_logger(__name__)

PRIORITIES = ["low", "normal", "high"]
"""Lowest first, as streaq orders them."""
Priority = Literal["low", "normal", "high"]
DEAD_LETTERS = f"{JOBS}:dead"
DEAD_LETTERS_KEPT = 1000
PRODUCER_CLOSE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class QueueSpec:
    """One Redis queue: its name, who registers its tasks, and which setting sizes a worker's concurrency."""

    name: str
    tasks: tuple[str, ...]
    """`module:function` that takes a JobQueue and registers its tasks."""
    concurrency_setting: str
    idle_timeout_setting: str = "jobs_idle_timeout_s"


GENERAL = QueueSpec(
    "hub-jobs", ("tools.seo:register_jobs", "chat_ui.whatsapp.worker:register_jobs"), "jobs_concurrency"
)
IMAGING = QueueSpec(
    "hub-imaging", ("imaging_service.worker:register_jobs",), "imaging_concurrency", "imaging_idle_timeout_s"
)
LINKED = (IMAGING,)
"""Queues the general producer can also enqueue on (`JobQueue.on`)."""


def events_channel(tenant_id: object) -> str:
    return f"{JOBS}:events:{tenant_id}"


class _Worker(Worker[Any]):
    """streaq's worker, minus its signal handler when `handle_signals` is off.

    streaq 7.2's `run_async` installs SIGINT/SIGTERM handlers whatever `handle_signals` says; inside
    `hub serve` that would steal uvicorn's handlers and the server would never shut down.
    """

    async def signal_handler(self, scope: anyio.CancelScope) -> None:
        if self.handle_signals:
            await super().signal_handler(scope)
        else:
            await anyio.sleep_forever()


@dataclass(frozen=True)
class JobResources:
    """What a running task uses: the worker's own database engine, Redis client and gateway."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    redis: aioredis.Redis
    gateway: Gateway
    extra: dict[str, Any] = field(default_factory=dict)
    """What registrars added with `JobQueue.provide` (e.g. the conversation graph), by name."""


Provider = Callable[[JobResources], AbstractAsyncContextManager[Any]]


class JobQueue:
    """One queue, used both to enqueue (inside `async with`) and to run a worker (`run`)."""

    def __init__(
        self,
        settings: Settings,
        spec: QueueSpec = GENERAL,
        *,
        register: bool = True,
        linked: tuple[QueueSpec, ...] = LINKED,
    ) -> None:
        """`register=False` makes a producer only (tasks are enqueued by name; their code is never imported)."""
        if not settings.redis_url:
            raise ValueError("the job queue needs settings.redis_url")
        self.settings = settings
        self.spec = spec
        self.worker: Worker[JobResources] = _Worker(
            redis_url=settings.redis_url,
            queue_name=spec.name,
            priorities=PRIORITIES,
            concurrency=getattr(settings, spec.concurrency_setting),
            idle_timeout=getattr(settings, spec.idle_timeout_setting),
            handle_signals=False,
            lifespan=self._lifespan,
        )
        self._linked = {
            other.name: JobQueue(settings, other, register=False, linked=()) for other in linked if other != spec
        }
        self._redis = create_redis(settings.redis_url)
        self._providers: dict[str, Provider] = {}
        self._holder: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._middleware = self.worker.middleware(self._retry_then_dead_letter)
        for path in spec.tasks if register else ():
            module, _, attr = path.partition(":")
            getattr(importlib.import_module(module), attr)(self)

    def on(self, spec: QueueSpec) -> JobQueue:
        """The producer for a linked queue (open while this one is)."""
        return self if spec == self.spec else self._linked[spec.name]

    # --- defining and enqueueing ---------------------------------------------------------------------

    def task(self, name: str, *, timeout_s: int) -> Callable[[Callable[..., Awaitable[Any]]], Any]:
        """Register an async task under `name`; it must be safe to run twice (at-least-once delivery).

        streaq counts a reclaim after a crash as a try too; `max_tries` leaves room for one more, so the last
        try's failure is the one this queue dead-letters.
        """
        return self.worker.task(name=name, timeout=timeout_s, max_tries=self.settings.jobs_max_tries + 1, ttl=3600)

    def provide(self, name: str, provider: Provider) -> None:
        """Open `provider(resources)` for the worker's lifetime; tasks find it in `resources.extra[name]`."""
        self._providers[name] = provider

    async def enqueue(self, name: str, *args: Any, priority: Priority = "normal", delay_s: float | None = None) -> str:
        """Queue a task by name and return its id; call inside `async with queue` (or from a running task)."""
        registered = self.worker.registry.get(name)
        task = registered.enqueue(*args) if registered is not None else self.worker.enqueue_unsafe(name, *args)
        started = await task.start(priority=priority, delay=timedelta(seconds=delay_s) if delay_s else None)
        return started.id

    @property
    def last_try(self) -> bool:
        """Inside a task: whether a failure now is final (the job goes to the dead-letter list)."""
        return self._middleware.context.tries >= self.settings.jobs_max_tries

    async def status(self, task_id: str) -> str:
        return str(await self.worker.status_by_id(task_id))

    async def abort(self, task_id: str) -> bool:
        """Cancel a queued or running job; True when a running one was stopped."""
        return await self.worker.abort_by_id(task_id, timeout=5)

    @property
    def resources(self) -> JobResources:
        """The running worker's resources; only inside a task."""
        return self.worker.context

    async def publish(self, tenant_id: object, event: dict[str, Any]) -> None:
        """Tell the tenant's operators about a job's progress (the console subscribes to this channel)."""
        await self._redis.publish(events_channel(tenant_id), json.dumps(event, default=str))

    async def depths(self) -> dict[str, int]:
        """Jobs waiting, delayed or running, by queue name: this queue and each linked one (inside `async with`).

        streaq keeps a job in its priority stream until the job finishes, and a delayed or retrying one in a
        sorted set, so this counts every unfinished job.
        """
        return {q.spec.name: await q.worker.queue_size() for q in (self, *self._linked.values())}

    async def dead_letters(self) -> list[dict[str, Any]]:
        """Jobs that ran out of tries, newest first, with the reason."""
        return [json.loads(raw) for raw in await self._redis.lrange(DEAD_LETTERS, 0, -1)]

    async def __aenter__(self) -> JobQueue:
        # streaq's connection lives in anyio cancel scopes that must close in the task that opened them;
        # a holder task owns it, so any task (a request, a test fixture's teardown) may open and close us.
        ready, self._closing = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with self.worker:
                ready.set()
                await self._closing.wait()

        self._holder = asyncio.create_task(hold(), name=f"job-queue-producer:{self.spec.name}")
        opened = asyncio.create_task(ready.wait())
        await asyncio.wait({self._holder, opened}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():
            opened.cancel()
            await self._holder  # raises the connection error
        for other in self._linked.values():
            await other.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for other in self._linked.values():
            await other.__aexit__(*exc)
        self._closing.set()
        if self._holder is not None:
            # Closing streaq's connection has been seen to hang once in CI; shutdown must not wait forever.
            done, _ = await asyncio.wait({self._holder}, timeout=PRODUCER_CLOSE_TIMEOUT_S)
            if not done:
                log.warning("job_queue_close_timed_out", timeout_s=PRODUCER_CLOSE_TIMEOUT_S)
                self._holder.cancel()
                await asyncio.gather(self._holder, return_exceptions=True)
        await self._redis.aclose()

    # --- running -------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Consume jobs until `stop` is set; jobs still running then are left to be reclaimed."""
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(self.worker.run_async)
                log.info("jobs_worker_started", queue=self.spec.name, worker_id=self.worker.id)
                await stop.wait()
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._redis.aclose()
        log.info("jobs_worker_stopped", queue=self.spec.name, worker_id=self.worker.id)

    @asynccontextmanager
    async def _lifespan(self) -> AsyncIterator[JobResources]:
        engine = create_engine(self.settings.resolved_database_url)
        redis = create_redis(self.settings.redis_url or "")
        sessions = session_factory(engine)
        gateway = build_gateway(self.settings, sessions, redis)
        resources = JobResources(self.settings, sessions, redis, gateway)
        try:
            async with AsyncExitStack() as stack:
                for name, provider in self._providers.items():
                    resources.extra[name] = await stack.enter_async_context(provider(resources))
                yield resources
        finally:
            # A worker stops by cancelling its lifespan: shielded, the cleanup still closes what it opened.
            with anyio.CancelScope(shield=True):
                await gateway.aclose()
                await redis.aclose()
                await engine.dispose()

    def _retry_then_dead_letter(self, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            ctx = self._middleware.context
            try:
                return await fn(*args, **kwargs)
            except (StreaqRetry, anyio.get_cancelled_exc_class()):
                raise
            except Exception as exc:
                if ctx.tries < self.settings.jobs_max_tries:
                    log.warning("job_retry", task=ctx.fn_name, task_id=ctx.task_id, tries=ctx.tries, error=repr(exc))
                    raise StreaqRetry(str(exc), delay=timedelta(seconds=2**ctx.tries)) from exc
                entry = {
                    "queue": self.spec.name,
                    "task_id": ctx.task_id,
                    "task": ctx.fn_name,
                    "tries": ctx.tries,
                    "reason": f"{type(exc).__name__}: {exc}",
                    "at": datetime.now(UTC).isoformat(),
                }
                await self._redis.lpush(DEAD_LETTERS, json.dumps(entry))
                await self._redis.ltrim(DEAD_LETTERS, 0, DEAD_LETTERS_KEPT - 1)
                log.error("job_dead", **entry)
                raise

        return wrapper


async def jobs_consumer(settings: Settings, redis: aioredis.Redis, stop: asyncio.Event) -> None:
    """Run one job worker inside a worker process until stop."""
    await JobQueue(settings, linked=()).run(stop)
