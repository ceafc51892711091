"""Background jobs on Redis streams: at-least-once, reclaimed when a worker dies, retried, dead-lettered.

A job is an entry in one of its queue's three priority streams, read by a consumer group. It is acknowledged
(and deleted) only when its task returns. A worker keeps the jobs it holds fresh in the group (it re-claims
them for itself every third of `jobs_idle_timeout_s`); a worker that dies stops doing so and, after that
timeout, another worker claims its jobs and runs them again, so every task must be safe to rerun. A task
that raises is retried with exponential backoff up to `jobs_max_tries`; the last failure lands in the
dead-letter list with its reason. Tasks publish progress on a per-tenant channel the console listens to.

Throughput comes from batching: one XREADGROUP fetches as many jobs as the worker has room for, acks of jobs
that finish meanwhile go out together in one MULTI (XACK + XDEL + results), and nothing else is written per
job. A worker that is told to stop reads no more, puts the jobs it fetched but never started back on their
stream, lets running jobs finish for `STOP_GRACE_S`, puts any still running back too, and returns: nothing
raises and nothing is lost.

Two queues, so each kind of worker takes only its own work: `GENERAL` (bulk SEO, WhatsApp events; run by
`hub worker channels`) and `IMAGING` (photo shoots; run by `hub worker imaging` on GPU hosts). Whoever hosts a
worker hands it the functions that register its tasks (`JobQueue(..., tasks=...)`; the service wires which
package's tasks run on which queue) and, if it likes, the resources they use (`run(stop, resources)`), so `hub`
never imports the packages built on it. Producers (`hub serve`) open the general `JobQueue`, which also opens a
producer for every linked queue (`jobs.on(IMAGING)`); enqueueing there needs no task code, only its name.

Keys, all under `hub:jobs:{<queue>}` (one hash slot per queue): `:<priority>` the streams (group `workers`),
`:delayed:<priority>` sorted sets of jobs waiting for a retry or a delay (score: due time in ms),
`:results:<minute>` hashes of job id → outcome of the jobs that finished in that minute, each kept for
`RESULT_TTL_S` (one HSET per batch of acks, not one key per job).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError, ResponseError
from redis.typing import StreamIdT
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from hub.aio import wait_event
from hub.constants import JOBS
from hub.db.engine import create_engine, session_factory
from hub.redis_conn import create_redis
from hub.settings import Settings

if TYPE_CHECKING:
    from hub.gateway.gateway import Gateway

log = structlog.get_logger(__name__)

PRIORITIES = ["low", "normal", "high"]
"""Lowest first."""
Priority = Literal["low", "normal", "high"]
_HIGH_FIRST: tuple[Priority, ...] = ("high", "normal", "low")
DEAD_LETTERS = f"{JOBS}:dead"
DEAD_LETTERS_KEPT = 1000
GROUP = "workers"
RESULT_TTL_S = 300
"""How long a finished job's outcome stays readable (`JobQueue.result`)."""
RESULT_BUCKET_S = 60
"""Outcomes are kept in one hash per this many seconds, which expires as a whole."""
STOP_GRACE_S = 10.0
"""How long a stopping worker lets running jobs finish before it puts them back on their stream."""
READ_BLOCK_MS = 500
"""Longest one read waits for a job: a job that arrives wakes it at once; a stop waits at most this long."""
DELAYED_POLL_S = 0.25
"""How often a worker moves due retries and delayed jobs onto their streams."""
FETCH_AHEAD_S = 0.1
MAX_FETCH_AHEAD = 256
ACK_LINGER_S = 0.002
"""How long finished jobs wait for company before their acknowledgement goes out (at most: a full batch goes at once)."""
REDIS_RETRY_S = 1.0
"""Pause after a Redis error before a worker's loop tries again."""

# Move every due job of each (delayed set, stream) pair onto the stream, atomically per job.
_MOVE_DUE = """
local moved = 0
for i = 1, #KEYS, 2 do
  local due = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
  for _, job in ipairs(due) do
    redis.call('XADD', KEYS[i + 1], '*', 'job', job)
    redis.call('ZREM', KEYS[i], job)
    moved = moved + 1
  end
end
return moved
"""


@dataclass(frozen=True)
class QueueSpec:
    """One Redis queue: its name and which settings size a worker's concurrency and its idle timeout."""

    name: str
    concurrency_setting: str
    idle_timeout_setting: str = "jobs_idle_timeout_s"

    def stream(self, priority: str) -> str:
        return f"{JOBS}:{{{self.name}}}:{priority}"

    def delayed(self, priority: str) -> str:
        return f"{JOBS}:{{{self.name}}}:delayed:{priority}"

    def results(self, bucket: int) -> str:
        return f"{JOBS}:{{{self.name}}}:results:{bucket}"


GENERAL = QueueSpec("hub-jobs", "jobs_concurrency")
IMAGING = QueueSpec("hub-imaging", "imaging_concurrency", "imaging_idle_timeout_s")
LINKED = (IMAGING,)
"""Queues the general producer can also enqueue on (`JobQueue.on`)."""


def events_channel(tenant_id: object) -> str:
    return f"{JOBS}:events:{tenant_id}"


class JobResources:
    """What a process's work uses: its database engine and Redis client, a model gateway that is built the first
    time something asks for it (an imaging worker never opens one), the producer its work enqueues on, and what
    the host and the queue's registrars added, by name."""

    def __init__(
        self, settings: Settings, engine: AsyncEngine, redis: aioredis.Redis, jobs: JobQueue | None = None
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self.redis = redis
        self.jobs = jobs
        """The process's producer (every queue), when its host opened one."""
        self.extra: dict[str, Any] = {}
        """What the host and the registrars (`JobQueue.provide`) added: the conversation graph, a Graph API client."""
        self._gateway: Gateway | None = None

    @property
    def gateway(self) -> Gateway:
        if self._gateway is None:
            from hub.gateway.factory import build_gateway  # prompts, ledger, switch board: only when a task needs them

            self._gateway = build_gateway(self.settings, self.sessions, self.redis)
        return self._gateway

    async def aclose(self) -> None:
        """Close the gateway (if one was built), the Redis client and the engine."""
        if self._gateway is not None:
            await self._gateway.aclose()
        await self.redis.aclose()
        await self.engine.dispose()


Provider = Callable[[JobResources], AbstractAsyncContextManager[Any]]
Entries = list[tuple[str, dict[str, str] | None]]
"""Stream entries as the client decodes them: (entry id, fields), fields None where the entry was deleted."""
StreamEntries = list[tuple[str, Entries]]
"""XREADGROUP's answer: each stream with its entries (redis-py types replies loosely: this is their shape here)."""
Registrar = Callable[["JobQueue"], None]
"""Registers a package's tasks (and what their worker keeps open) on a queue: `register_jobs(queue)`."""


@dataclass(frozen=True)
class JobResult:
    """How a finished job ended: its task's return value, or the reason it was dead-lettered."""

    success: bool
    result: Any = None
    exception: str | None = None


@dataclass(frozen=True)
class _Task:
    fn: Callable[..., Awaitable[Any]]
    timeout_s: float
    keep_result: bool


@dataclass(frozen=True)
class _Job:
    """What a stream entry carries (its one field, `job`, as JSON)."""

    id: str
    task: str
    args: list[Any]
    tries: int
    """Tries that already ended in a failure (a retry is a new entry with one more)."""

    def dump(self) -> str:
        return json.dumps({"id": self.id, "task": self.task, "args": self.args, "tries": self.tries})

    @classmethod
    def load(cls, raw: str) -> _Job:
        data = json.loads(raw)
        return cls(id=data["id"], task=data["task"], args=data["args"], tries=int(data.get("tries", 0)))


@dataclass(frozen=True)
class _Delivery:
    """One job as this worker holds it: where it came from and which try this is."""

    priority: Priority
    entry_id: str
    raw: str
    job: _Job | None
    """None when the entry could not be read (it is dead-lettered)."""
    deliveries: int

    @property
    def tries(self) -> int:
        """This try's number, counting earlier failures and earlier workers that died holding the job."""
        return (self.job.tries if self.job else 0) + self.deliveries


_CURRENT: ContextVar[_Delivery] = ContextVar("hub_job")


class JobQueue:
    """One queue, used both to enqueue (inside `async with`) and to run a worker (`run`)."""

    def __init__(
        self,
        settings: Settings,
        spec: QueueSpec = GENERAL,
        *,
        tasks: Iterable[Registrar] = (),
        linked: tuple[QueueSpec, ...] = LINKED,
    ) -> None:
        """`tasks` register what a worker of this queue runs; a producer needs none (it enqueues tasks by name)."""
        if not settings.redis_url:
            raise ValueError("the job queue needs settings.redis_url")
        self.settings = settings
        self.spec = spec
        self.concurrency: int = getattr(settings, spec.concurrency_setting)
        self.idle_timeout_s: float = getattr(settings, spec.idle_timeout_setting)
        self._linked = {other.name: JobQueue(settings, other, linked=()) for other in linked if other != spec}
        self._redis = create_redis(settings.redis_url)
        self._tasks: dict[str, _Task] = {}
        self._providers: dict[str, Provider] = {}
        self._resources: JobResources | None = None
        for register in tasks:
            register(self)

    @property
    def redis(self) -> aioredis.Redis:
        """The queue's own Redis client (its workers read and acknowledge jobs through it)."""
        return self._redis

    def task_named(self, name: str) -> _Task | None:
        return self._tasks.get(name)

    def on(self, spec: QueueSpec) -> JobQueue:
        """The producer for a linked queue (open while this one is)."""
        return self if spec == self.spec else self._linked[spec.name]

    # --- defining and enqueueing ---------------------------------------------------------------------

    def task(
        self, name: str, *, timeout_s: float, keep_result: bool = True
    ) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
        """Register an async task under `name`; it must be safe to run twice (at-least-once delivery).

        Its arguments travel as JSON. With `keep_result` its outcome is readable for `RESULT_TTL_S` seconds.
        """

        def register(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            self._tasks[name] = _Task(fn, timeout_s, keep_result)
            return fn

        return register

    def provide(self, name: str, provider: Provider) -> None:
        """Open `provider(resources)` for the worker's lifetime; tasks find it in `resources.extra[name]`."""
        self._providers[name] = provider

    async def enqueue(self, name: str, *args: Any, priority: Priority = "normal", delay_s: float | None = None) -> str:
        """Queue a task by name and return its id: one round trip to Redis."""
        job = _Job(id=uuid.uuid4().hex, task=name, args=list(args), tries=0)
        if delay_s:
            await self._redis.zadd(self.spec.delayed(priority), {job.dump(): _ms() + int(delay_s * 1000)})
        else:
            await self._redis.xadd(self.spec.stream(priority), {"job": job.dump()})
        return job.id

    @property
    def last_try(self) -> bool:
        """Inside a task: whether a failure now is final (the job goes to the dead-letter list)."""
        return _CURRENT.get().tries >= self.settings.jobs_max_tries

    @property
    def resources(self) -> JobResources:
        """The running worker's resources; only inside a task."""
        if self._resources is None:
            raise RuntimeError("JobQueue.resources is only there while the worker runs")
        return self._resources

    async def publish(self, tenant_id: object, event: dict[str, Any]) -> None:
        """Tell the tenant's operators about a job's progress (the console subscribes to this channel)."""
        await self._redis.publish(events_channel(tenant_id), json.dumps(event, default=str))  # pyright: ignore[reportUnknownMemberType]  # redis-py leaves **kwargs unannotated

    async def result(self, task_id: str, *, timeout_s: float) -> JobResult:
        """Wait up to `timeout_s` for the job to finish (or be dead-lettered) and return how it ended."""
        async with asyncio.timeout(timeout_s):
            while (raw := await self._find_result(task_id)) is None:  # noqa: ASYNC110 — it lands in Redis
                await asyncio.sleep(0.05)
        data = json.loads(raw)
        return JobResult(success=data["success"], result=data.get("result"), exception=data.get("exception"))

    async def _find_result(self, task_id: str) -> str | None:
        newest = _bucket()
        async with self._redis.pipeline(transaction=False) as pipe:
            for bucket in range(newest, newest - RESULT_TTL_S // RESULT_BUCKET_S - 2, -1):
                pipe.hget(self.spec.results(bucket), task_id)
            found = await pipe.execute()
        return next((raw for raw in found if raw is not None), None)

    async def depths(self) -> dict[str, int]:
        """Jobs waiting, delayed or running, by queue name: this queue and each linked one.

        A job stays in its stream until it is acknowledged, and a delayed or retrying one waits in a sorted
        set, so this counts every unfinished job.
        """
        queues = [self.spec, *(q.spec for q in self._linked.values())]
        async with self._redis.pipeline(transaction=False) as pipe:
            for spec in queues:
                for priority in PRIORITIES:
                    pipe.xlen(spec.stream(priority))
                    pipe.zcard(spec.delayed(priority))
            counts = await pipe.execute()
        per_queue = 2 * len(PRIORITIES)
        return {spec.name: sum(counts[i * per_queue : (i + 1) * per_queue]) for i, spec in enumerate(queues)}

    async def dead_letters(self) -> list[dict[str, Any]]:
        """Jobs that ran out of tries, newest first, with the reason."""
        return [json.loads(raw) for raw in await self._redis.lrange(DEAD_LETTERS, 0, -1)]

    async def __aenter__(self) -> JobQueue:
        # A producer that cannot reach Redis fails at startup, not on its first job.
        await self._redis.ping()  # pyright: ignore[reportUnknownMemberType]  # redis-py leaves **kwargs unannotated
        for other in self._linked.values():
            await other.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for other in self._linked.values():
            await other.__aexit__(*exc)
        await self._redis.aclose()

    # --- running -------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, resources: JobResources | None = None) -> None:
        """Consume jobs until `stop` is set; then put back what has not run and return.

        The host hands over the `resources` its tasks use (and closes them after); without, the worker opens its
        own database engine and Redis client and closes them when it stops. A stop raises nothing and loses
        nothing; only a start that fails (Redis unreachable, a provider that cannot open, such as a missing
        model) raises.
        """
        try:
            async with self._lifespan(resources) as opened:
                await _Consumer(self, opened).run(stop)
        finally:
            await self._redis.aclose()

    @asynccontextmanager
    async def _lifespan(self, hosted: JobResources | None) -> AsyncGenerator[JobResources]:
        resources = hosted or open_job_resources(self.settings)
        try:
            async with AsyncExitStack() as stack:
                for name, provider in self._providers.items():
                    resources.extra[name] = await stack.enter_async_context(provider(resources))
                self._resources = resources
                yield resources
        finally:
            self._resources = None
            if hosted is None:
                await resources.aclose()


def open_job_resources(settings: Settings) -> JobResources:
    """A worker's own resources: a database engine and a Redis client of its own (the caller closes them)."""
    return JobResources(settings, create_engine(settings.resolved_database_url), create_redis(settings.redis_url or ""))


def _ms() -> int:
    return int(time.time() * 1000)


def _bucket() -> int:
    return int(time.time()) // RESULT_BUCKET_S


def _keep_outcomes(pipe: Any, spec: QueueSpec, outcomes: dict[str, str]) -> None:
    """Add finished jobs' outcomes to this minute's hash in `pipe` (one HSET and one EXPIRE for the batch)."""
    if outcomes:
        key = spec.results(_bucket())
        pipe.hset(key, mapping=outcomes)
        pipe.expire(key, RESULT_TTL_S + RESULT_BUCKET_S)


class _Consumer:
    """One running worker of one queue: a reader, the jobs it runs, an acker and a keeper, until stopped."""

    def __init__(self, queue: JobQueue, resources: JobResources) -> None:
        self.queue = queue
        self.spec = queue.spec
        self.redis = queue.redis
        self.resources = resources
        self.name = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.concurrency = queue.concurrency
        self.run_s = 1.0
        """Recent jobs' running time (moving average); decides how many jobs to fetch ahead."""
        self.max_tries = queue.settings.jobs_max_tries
        self.idle_ms = int(queue.idle_timeout_s * 1000)
        self.streams: dict[str, Priority] = {self.spec.stream(p): p for p in _HIGH_FIRST}
        self.waiting: dict[Priority, deque[_Delivery]] = {p: deque() for p in _HIGH_FIRST}
        self.running: dict[asyncio.Task[None], _Delivery] = {}
        self.started: dict[asyncio.Task[None], float] = {}
        self.to_ack: list[tuple[_Delivery, str | None]] = []
        self.to_release: list[_Delivery] = []
        self.room = asyncio.Event()
        self.acks_ready = asyncio.Event()
        self.reading = True
        self.done = asyncio.Event()
        self.move_due = self.redis.register_script(_MOVE_DUE)
        self.finished = 0
        self._last_error: str | None = None

    @property
    def limit(self) -> int:
        """Jobs to hold at once: the running ones plus those fetched ahead, as many as this worker starts in about
        `FETCH_AHEAD_S` at its recent pace (at least its concurrency, so a finished job's slot is filled without a
        wait; no more, when jobs are long, so they wait on the stream where another worker can take them)."""
        ahead = int(self.concurrency * FETCH_AHEAD_S / max(self.run_s, 1e-4))
        return self.concurrency + min(max(ahead, self.concurrency), MAX_FETCH_AHEAD)

    @property
    def held(self) -> int:
        return len(self.running) + sum(len(w) for w in self.waiting.values())

    # --- lifecycle ---

    async def run(self, stop: asyncio.Event) -> None:
        await self._create_groups()
        loops = [
            asyncio.create_task(self._read_loop(), name=f"jobs-read:{self.spec.name}"),
            asyncio.create_task(self._ack_loop(), name=f"jobs-ack:{self.spec.name}"),
        ]
        keeper = asyncio.create_task(self._keep_loop(), name=f"jobs-keep:{self.spec.name}")
        log.info("jobs_worker_started", queue=self.spec.name, worker_id=self.name, concurrency=self.concurrency)
        try:
            await stop.wait()
        finally:
            self.reading = False
            self.room.set()
            await loops[0]  # the reader finishes its current read (at most READ_BLOCK_MS)
            released = [d for w in self.waiting.values() for d in w]
            for w in self.waiting.values():
                w.clear()
            await self._release(released)
            if self.running:
                _, late = await asyncio.wait(set(self.running), timeout=STOP_GRACE_S)
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
            await self._release(self.to_release)
            self.done.set()
            self.acks_ready.set()
            await loops[1]  # the last acks
            await keeper
            await self._leave_group()
            log.info(
                "jobs_worker_stopped",
                queue=self.spec.name,
                worker_id=self.name,
                finished=self.finished,
                put_back=len(released) + len(self.to_release),
            )

    async def _create_groups(self) -> None:
        for stream in self.streams:
            try:
                # From the stream's first entry: jobs queued before any worker ever started are not skipped.
                await self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def _leave_group(self) -> None:
        """Remove this consumer from the group once it holds nothing (a SIGKILLed one stays, harmlessly)."""
        with contextlib.suppress(RedisError, OSError):
            for stream in self.streams:
                if not await self.redis.xpending_range(stream, GROUP, "-", "+", 1, consumername=self.name):
                    await self.redis.xgroup_delconsumer(stream, GROUP, self.name)

    def _redis_failed(self, where: str, exc: BaseException) -> None:
        """Log a Redis outage once per kind of error, not once per loop turn."""
        error = f"{type(exc).__name__}: {exc}"
        if error != self._last_error:
            log.warning("jobs_redis_error", queue=self.spec.name, where=where, error=error)
            self._last_error = error

    # --- reading and running ---

    async def _read_loop(self) -> None:
        while self.reading:
            want = self.limit - self.held
            if want < self.concurrency:  # read in batches: wait until the jobs fetched ahead have started
                self.room.clear()
                await self.room.wait()
                continue
            try:
                found = cast(
                    StreamEntries | None,
                    await self.redis.xreadgroup(
                        GROUP, self.name, dict.fromkeys(self.streams, ">"), count=want, block=READ_BLOCK_MS
                    ),
                )
            except ResponseError as exc:
                self._redis_failed("read", exc)
                if "NOGROUP" in str(exc):  # the streams were deleted (a flushed database): start over
                    with contextlib.suppress(RedisError, OSError):
                        await self._create_groups()
                        continue
                await asyncio.sleep(REDIS_RETRY_S)
                continue
            except (RedisError, OSError) as exc:
                self._redis_failed("read", exc)
                await asyncio.sleep(REDIS_RETRY_S)
                continue
            self._last_error = None
            for stream, entries in found or []:
                priority = self.streams[stream]
                for entry_id, fields in entries:
                    self._hold(priority, entry_id, fields, deliveries=1)
            self._dispatch()

    def _hold(self, priority: Priority, entry_id: str, fields: dict[str, str] | None, *, deliveries: int) -> None:
        raw = (fields or {}).get("job", "")
        try:
            job: _Job | None = _Job.load(raw)
        except (ValueError, KeyError, TypeError):
            job = None
        self.waiting[priority].append(_Delivery(priority, entry_id, raw, job, deliveries))

    def _dispatch(self) -> None:
        for priority in _HIGH_FIRST:
            waiting = self.waiting[priority]
            while waiting and len(self.running) < self.concurrency:
                delivery = waiting.popleft()
                task = asyncio.create_task(self._execute(delivery))
                self.running[task] = delivery
                self.started[task] = time.monotonic()
                task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.running.pop(task, None)
        self.run_s = 0.9 * self.run_s + 0.1 * (time.monotonic() - self.started.pop(task, time.monotonic()))
        self.finished += 1
        if self.reading:
            self._dispatch()
        self.room.set()

    async def _execute(self, delivery: _Delivery) -> None:
        job = delivery.job
        token = _CURRENT.set(delivery)
        try:
            if job is None:
                await self._dead(delivery, "unreadable job entry", None)
                return
            task = self.queue.task_named(job.task)
            if task is None:
                await self._dead(delivery, f"no task named {job.task!r} on queue {self.spec.name}", None)
                return
            if delivery.tries > self.max_tries:  # every earlier holder died with it: do not let it kill another
                await self._dead(delivery, f"its worker stopped during each of {delivery.tries - 1} tries", task)
                return
            try:
                async with asyncio.timeout(task.timeout_s):
                    value = await task.fn(*job.args)
            except asyncio.CancelledError:
                self.to_release.append(delivery)  # still running when the stop's grace ran out
                return
            except Exception as exc:
                await self._failed(delivery, task, exc)
                return
            outcome = json.dumps({"success": True, "result": value}, default=str) if task.keep_result else None
            self.to_ack.append((delivery, outcome))
            self.acks_ready.set()
        except (RedisError, OSError) as exc:
            # The job stays pending in the group: another worker (or this one) reclaims it after the idle timeout.
            self._redis_failed("finish", exc)
        finally:
            _CURRENT.reset(token)

    async def _failed(self, delivery: _Delivery, task: _Task, exc: Exception) -> None:
        job = delivery.job
        assert job is not None
        reason = f"{type(exc).__name__}: {exc}"
        if delivery.tries < self.max_tries:
            delay_s = 2**delivery.tries
            log.warning(
                "job_retry", task=job.task, task_id=job.id, tries=delivery.tries, delay_s=delay_s, error=repr(exc)
            )
            again = _Job(id=job.id, task=job.task, args=job.args, tries=delivery.tries)
            stream = self.spec.stream(delivery.priority)
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(self.spec.delayed(delivery.priority), {again.dump(): _ms() + delay_s * 1000})
                pipe.xack(stream, GROUP, delivery.entry_id)
                pipe.xdel(stream, delivery.entry_id)
                await pipe.execute()
            return
        await self._dead(delivery, reason, task)

    async def _dead(self, delivery: _Delivery, reason: str, task: _Task | None) -> None:
        job = delivery.job
        entry = {
            "queue": self.spec.name,
            "task_id": job.id if job else delivery.entry_id,
            "task": job.task if job else None,
            "tries": delivery.tries,
            "reason": reason,
            "at": datetime.now(UTC).isoformat(),
        }
        stream = self.spec.stream(delivery.priority)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(DEAD_LETTERS, json.dumps(entry))
            pipe.ltrim(DEAD_LETTERS, 0, DEAD_LETTERS_KEPT - 1)
            pipe.xack(stream, GROUP, delivery.entry_id)
            pipe.xdel(stream, delivery.entry_id)
            if job is not None and (task is None or task.keep_result):
                _keep_outcomes(pipe, self.spec, {job.id: json.dumps({"success": False, "exception": reason})})
            await pipe.execute()
        log.error("job_dead", **entry)

    async def _release(self, deliveries: Iterable[_Delivery]) -> None:
        """Put jobs this worker will not run back at the end of their stream, as they were (no try is spent)."""
        deliveries = list(deliveries)
        if not deliveries:
            return
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                for d in deliveries:
                    stream = self.spec.stream(d.priority)
                    if d.job is not None:
                        pipe.xadd(stream, {"job": d.raw})
                    pipe.xack(stream, GROUP, d.entry_id)
                    pipe.xdel(stream, d.entry_id)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # Left pending in the group: another worker reclaims them after the idle timeout.
            self._redis_failed("release", exc)

    # --- acknowledging ---

    async def _ack_loop(self) -> None:
        """Acknowledge finished jobs in batches: whatever finished while the last batch was in flight goes next."""
        while True:
            await self.acks_ready.wait()
            if len(self.to_ack) < self.concurrency and not self.done.is_set():
                await asyncio.sleep(ACK_LINGER_S)  # let the jobs running now finish into the same batch
            self.acks_ready.clear()
            batch, self.to_ack = self.to_ack, []
            if batch:
                await self._ack(batch)
            if self.done.is_set() and not self.to_ack:
                return

    async def _ack(self, batch: list[tuple[_Delivery, str | None]]) -> None:
        by_stream: dict[str, list[StreamIdT]] = {}
        for delivery, _ in batch:
            by_stream.setdefault(self.spec.stream(delivery.priority), []).append(delivery.entry_id)
        for attempt in range(3):
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    for stream, ids in by_stream.items():
                        pipe.xack(stream, GROUP, *ids)
                        pipe.xdel(stream, *ids)
                    _keep_outcomes(
                        pipe,
                        self.spec,
                        {d.job.id: outcome for d, outcome in batch if outcome is not None and d.job is not None},
                    )
                    await pipe.execute()
                return
            except (RedisError, OSError) as exc:
                self._redis_failed("ack", exc)
                if attempt < 2:
                    await asyncio.sleep(REDIS_RETRY_S)
        # Unacknowledged, these jobs run again elsewhere after the idle timeout: at least once, never lost.

    # --- keeping: delayed jobs, heartbeats, reclaiming ---

    async def _keep_loop(self) -> None:
        beat_s = max(0.1, self.idle_ms / 3000)
        reclaim_s = max(0.2, self.idle_ms / 2000)
        next_beat = next_reclaim = time.monotonic()
        while not self.done.is_set():
            now = time.monotonic()
            try:
                if self.reading:
                    await self._move_due()
                if now >= next_beat:
                    await self._heartbeat()
                    next_beat = now + beat_s
                if self.reading and now >= next_reclaim:
                    await self._reclaim()
                    next_reclaim = now + reclaim_s
            except (RedisError, OSError) as exc:
                self._redis_failed("keep", exc)
            await wait_event(self.done, min(DELAYED_POLL_S, beat_s))

    async def _move_due(self) -> None:
        keys = [key for p in _HIGH_FIRST for key in (self.spec.delayed(p), self.spec.stream(p))]
        await self.move_due(keys=keys, args=[_ms(), 100])

    async def _heartbeat(self) -> None:
        """Reset the idle time of every job this worker holds, so no other worker takes one while it runs."""
        held = [*self.running.values(), *(d for w in self.waiting.values() for d in w)]
        if not held:
            return
        by_stream: dict[str, list[StreamIdT]] = {}
        for d in held:
            by_stream.setdefault(self.spec.stream(d.priority), []).append(d.entry_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            for stream, ids in by_stream.items():
                pipe.xclaim(stream, GROUP, self.name, 0, ids, justid=True)
            await pipe.execute()

    async def _reclaim(self) -> None:
        """Take over jobs whose worker stopped heartbeating for the idle timeout (it died, or hangs)."""
        for stream, priority in self.streams.items():
            want = self.limit - self.held
            if want <= 0:
                return
            stale = await self.redis.xpending_range(stream, GROUP, "-", "+", want, idle=self.idle_ms)
            stale = [p for p in stale if p["consumer"] != self.name]
            if not stale:
                continue
            counts = {str(p["message_id"]): int(p["times_delivered"]) for p in stale}
            ids: list[StreamIdT] = [*counts]
            claimed = cast(Entries, await self.redis.xclaim(stream, GROUP, self.name, self.idle_ms, ids))
            for entry_id, fields in claimed:
                if fields is None:
                    continue
                log.info("job_reclaimed", queue=self.spec.name, entry_id=entry_id, from_worker_tries=counts[entry_id])
                self._hold(priority, entry_id, fields, deliveries=counts[entry_id] + 1)
        self._dispatch()
